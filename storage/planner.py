"""Planner settings for the service's own sessions.

Every statement the service runs fetches or changes rows by key (an order, a parcel, an
event id, an outbox position), so the right plan is always an index lookup per key. The
planner does not always agree: a prepared statement's generic plan made while a table is
still small (a fresh database, the first minutes after a deployment) can be a sequential
scan or a hash join, and it stays cached while the table grows. One `make bench` raw pass
hit it: the UPDATE of a batch's orders scanned the whole table, and its SQL time went
from 11 to 56 s. Turning the scan and join methods that read a whole table off for these
sessions leaves the planner only the lookups (where a table has no index it still scans).
"""

from __future__ import annotations

import psycopg

_KEY_LOOKUPS = ("SELECT set_config('enable_seqscan', 'off', %(local)s), "
                "set_config('enable_hashjoin', 'off', %(local)s), "
                "set_config('enable_mergejoin', 'off', %(local)s)")


def prefer_key_lookups(conn: psycopg.Connection, *, transaction_only: bool) -> None:
    """Apply the settings to the current transaction, or to the whole session."""
    conn.execute(_KEY_LOOKUPS, {"local": transaction_only}, prepare=True)
