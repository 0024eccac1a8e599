"""A unit of work's transaction on PostgreSQL, and the timing of what runs in it.

Statements are set-based and their arrays go as binary parameters (`%b`): in the text
form psycopg escapes every quote of every JSON document and every byte of every payload
in Python, which cost more than the statements themselves.

Rows are fetched one index lookup per key, `unnest(keys)` with a LATERAL subquery that
the planner cannot turn into a join (it locks, or has OFFSET 0): statements are
prepared, and with `= ANY(keys)` or a plain join the plan could be a scan of the whole
table (a generic plan made while the table was small, or a hash join the cost model
prefers over a few hundred lookups). The keys come sorted, and a nested loop keeps
their order, so rows are locked in that order.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
import psycopg
from psycopg.types.json import set_json_loads

from storage.planner import prefer_key_lookups

# JSONB read back is parsed with orjson, well under half the time of the standard
# library's json.loads that psycopg uses by default (set for the whole process, as
# psycopg's adapters are).
set_json_loads(orjson.loads)

#: the relay LISTENs on this channel; the sweeper's commit that adds to an outbox
#: NOTIFYs it. Only the sweeper does: PostgreSQL serialises the commits of every
#: transaction that has notified (a database-wide lock held through the commit's WAL
#: flush), so consumers that notified on each batch queued their commits behind one
#: another's disk flushes.
CASE_EVENTS_CHANNEL = "case_events"
#: the advisory lock a transaction holds from appending case events to its end: appends
#: commit in seq order, so the relay's cursor (publish up to a seq) never skips one
OUTBOX_APPEND_LOCK = 0x0CA5E6


def dumps(value: Any) -> str:
    """JSON text for a JSONB parameter (orjson: several times faster than json.dumps)."""
    return orjson.dumps(value).decode()


class Timed:
    """Runs statements on one connection, adding up the time they take."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        #: time in statements, and in (de)serialising state and records
        self.sql_seconds = 0.0
        self.state_seconds = 0.0

    def execute(self, sql: str, params: Any = None, prepare: bool | None = True) -> None:
        started = time.perf_counter()
        try:
            self.conn.execute(sql, params, prepare=prepare)
        finally:
            self.sql_seconds += time.perf_counter() - started

    def rows(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        started = time.perf_counter()
        try:
            return self.conn.execute(sql, params, prepare=True).fetchall()
        finally:
            self.sql_seconds += time.perf_counter() - started

    def notify(self, channel: str = CASE_EVENTS_CHANNEL) -> None:
        self.execute("SELECT pg_notify(%s, '')", (channel,))


@contextmanager
def transaction(conn: psycopg.Connection) -> Iterator[psycopg.Connection]:
    """A transaction on `conn`, committed when the block ends, rolled back on error.

    In pipeline mode: a statement whose result is not read (the writes, the inserts
    before a locking select, BEGIN and COMMIT) goes out with the next one that is, so a
    unit of work costs a round trip per read, not per statement. Under load the round
    trips, not the statements, were what a batch waited for: each one waits for the
    backend and then the client to get a core back."""
    with conn.pipeline(), conn.transaction():
        prefer_key_lookups(conn, transaction_only=True)
        yield conn
