"""The inbox's retention: the rows of records that no topic can deliver again.

The inbox is what makes a record read twice change nothing, so a row may go only once a
second reading is impossible: Kafka has deleted the record from its partition (the
offset is below the log's start), no dead letter that could be redriven as that record
is still kept (the row was written before the oldest one), and no held action can still
need its position (the row is older than the hold). Without this the table grows by a
row per inbound record for ever.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import psycopg

#: rows per DELETE, each its own transaction, so a first pass over a large backlog holds
#: no long transaction and its locks
CHUNK = 10_000


def prune_inbox(conn: psycopg.Connection, log_starts: Mapping[tuple[str, int], int],
                processed_before: dt.datetime, chunk: int = CHUNK) -> int:
    """Delete the rows of each (topic, partition) in `log_starts` below its offset that
    were processed before `processed_before`; `conn` in autocommit. Return how many."""
    pruned = 0
    for (topic, partition), start in sorted(log_starts.items()):
        while True:
            deleted = conn.execute(
                'DELETE FROM inbox WHERE event_id IN (SELECT event_id FROM inbox '
                'WHERE topic = %s AND "partition" = %s AND "offset" < %s '
                'AND processed_at < %s LIMIT %s)',
                (topic, partition, start, processed_before, chunk)).rowcount
            pruned += deleted
            if deleted < chunk:
                break
    return pruned
