"""A consumer's transaction sends no NOTIFY. PostgreSQL serialises the commits of all
transactions that have notified (a database-wide lock held through each one's WAL
flush), so five consumers notifying on every batch waited for one another's disk
flushes; the sweeper looks for new records every sweep interval instead. The
connection is a fake that records the statements (the boundary of this unit)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from service.unit_of_work import PartitionStep
from storage.records import PostgresStore


class _Recorded:
    def fetchall(self) -> list[Any]:
        return []


class _RecordingConnection:
    def __init__(self) -> None:
        self.statements: list[str] = []

    def execute(self, query: Any, params: Any = None, prepare: bool | None = None,
                **_kwargs: Any) -> _Recorded:
        self.statements.append(str(query))
        return _Recorded()


def test_recording_how_far_a_batch_read_sends_no_notice():
    conn = _RecordingConnection()
    PostgresStore(conn).advance([PartitionStep(
        "orders", 0, 42, dt.datetime(2026, 3, 1, tzinfo=dt.UTC))])
    assert any("inbound_progress" in s for s in conn.statements)  # it did record it
    assert not any("notify" in s.lower() for s in conn.statements)
