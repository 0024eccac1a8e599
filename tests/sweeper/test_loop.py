"""The sweeper's pace: a pass at most every sweep interval while something keeps coming
due, and a consumer's notice looked into no more often than that. The database is a
fake here (what the loop asks of it: the lead's lock, LISTEN, notices); what a pass
does is the integration tests'."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg

from configuration import settings_from_env
from sweeper.loop import Sweeper

INTERVAL = 0.1
RUN_FOR = 1.0


class _Answer:
    def fetchone(self) -> tuple[bool]:
        return (True,)


class _Connection:
    """Leads at once; every wait for a notice is cut short by one."""

    def __init__(self) -> None:
        self.waits = 0

    def execute(self, *_args: Any, **_kwargs: Any) -> _Answer:
        return _Answer()

    def notifies(self, timeout: float, stop_after: int) -> Iterator[object]:
        self.waits += 1
        yield object()


class _Sweeper(Sweeper):
    """Counts passes and looks; `due` says what the next look finds."""

    passes: int = 0
    looks: int = 0
    due: dt.datetime | None = None

    def _next(self, conn: psycopg.Connection) -> dt.datetime | None:
        self.looks += 1
        return self.due

    def sweep_once(self, conn: Any, ends: Any) -> None:  # type: ignore[override]
        self.passes += 1


def _run(sweeper: _Sweeper, conn: _Connection) -> None:
    thread = threading.Thread(target=sweeper._lead, args=(conn, None), daemon=True)
    thread.start()
    time.sleep(RUN_FOR)
    sweeper.stop.set()
    thread.join(5)
    assert not thread.is_alive()


def _settings() -> Any:
    return settings_from_env({"DATABASE_URL": "postgresql://unused/db",
                              "CASES_SWEEP_INTERVAL_SECONDS": str(INTERVAL)}, need_kafka=False)


def test_passes_start_at_most_every_sweep_interval_while_records_keep_coming_due():
    sweeper = _Sweeper(_settings())
    sweeper.due = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)  # long past: always due
    _run(sweeper, _Connection())
    # back to back, a pass that costs nothing would run thousands of times a second
    assert 2 <= sweeper.passes <= RUN_FOR / INTERVAL + 1


def test_a_notice_is_looked_into_no_more_often_than_the_sweep_interval():
    sweeper = _Sweeper(_settings())
    sweeper.due = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)  # nothing due
    conn = _Connection()
    _run(sweeper, conn)
    # the first look measures the watermark (it is measured at least every second)
    assert sweeper.passes <= 2
    assert 2 <= sweeper.looks <= RUN_FOR / INTERVAL + 2
    assert conn.waits <= sweeper.looks
