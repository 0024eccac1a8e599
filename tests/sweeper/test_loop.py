"""The sweeper's pace: a pass at most every sweep interval while something keeps coming
due, and a look for something due every interval while nothing is, with no notice from
the consumers. The database is a fake here (what the loop asks of it: the lead's lock);
what a pass does is the integration tests'."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import psycopg

from configuration import settings_from_env
from domain.watermark import PartitionProgress
from sweeper.loop import Sweeper

INTERVAL = 0.1
RUN_FOR = 1.0
LONG_AGO = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


class _Answer:
    def fetchone(self) -> tuple[bool]:
        return (True,)


class _Connection:
    """Leads at once; has no notices to wait for (consumers send none)."""

    def execute(self, *_args: Any, **_kwargs: Any) -> _Answer:
        return _Answer()


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
        self._low, self._holding = self.low, self.holding

    #: what each pass finds: the watermark in force, and what held it back
    low: dt.datetime | None = None
    holding: list[PartitionProgress] | None = None
    #: the progress each look reads: `stores` makes each read find one more batch
    stores: bool = False
    batches: int = 0

    def _progress(self, conn: Any) -> dict[tuple[str, int], tuple[int, dt.datetime | None]]:
        if not self.stores:
            return {}  # nothing stored from the partition yet
        self.batches += 1
        return {("orders", 0): (self.batches, LONG_AGO)}


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


def test_with_nothing_due_it_looks_every_sweep_interval_without_a_notice():
    sweeper = _Sweeper(_settings())
    sweeper.due = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)  # nothing due
    _run(sweeper, _Connection())
    # the first look measures the watermark (it is measured at least every second)
    assert sweeper.passes <= 2
    # a record stored meanwhile is found by the next look: looks keep coming, paced
    assert RUN_FOR / INTERVAL - 3 <= sweeper.looks <= RUN_FOR / INTERVAL + 2


#: records on it, none read yet: the watermark is None until its consumer stores some
UNREAD = PartitionProgress("orders", 0, 0, 500, None, None)


def test_while_a_topic_not_read_at_all_holds_the_watermark_it_is_measured_once_a_second():
    sweeper = _Sweeper(_settings())
    sweeper.due, sweeper.holding = LONG_AGO, [UNREAD]  # due, but no watermark yet
    _run(sweeper, _Connection())
    # the first pass, then one a second: the same answer twenty times a second is waste
    assert 1 <= sweeper.passes <= 2


def test_once_its_consumer_stores_a_batch_the_next_look_measures_again():
    sweeper = _Sweeper(_settings())
    sweeper.due, sweeper.holding, sweeper.stores = LONG_AGO, [UNREAD], True
    _run(sweeper, _Connection())
    assert RUN_FOR / INTERVAL - 3 <= sweeper.passes <= RUN_FOR / INTERVAL + 1


def test_what_is_due_behind_the_watermark_in_force_is_decided_without_waiting():
    # a late record or a time rule the watermark has passed: the next pass decides it
    sweeper = _Sweeper(_settings())
    sweeper.due, sweeper.holding = LONG_AGO, [UNREAD]
    sweeper.low = LONG_AGO + dt.timedelta(hours=1)
    _run(sweeper, _Connection())
    assert RUN_FOR / INTERVAL - 3 <= sweeper.passes <= RUN_FOR / INTERVAL + 1
