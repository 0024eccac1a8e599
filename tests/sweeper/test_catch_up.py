"""Catching up: while a backlog is read the sweeper passes at most every
CASES_CATCH_UP_PASS_SECONDS, and as soon as it is read, at every look again. The
watermark is still measured and kept meanwhile. The broker and the database are fakes
here (what the loop asks of them); the benchmark measures what it saves."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

import sweeper.loop as loop
from configuration import settings_from_env
from domain.watermark import PartitionProgress, Watermark
from service.decide import PassReport
from sweeper.catch_up import CatchUp
from sweeper.loop import CATCHING_UP, MEASURED, Sweeper

LOW = dt.datetime(2026, 3, 14, 12, 0, tzinfo=dt.UTC)


def test_a_backlog_holds_passes_for_the_spacing_after_the_last_one():
    catch_up = CatchUp(backlog=10_000, spacing=30.0)
    assert not catch_up.holds(50_000, now=100.0)  # no pass yet: one now
    catch_up.last_pass = 100.0
    assert catch_up.holds(10_000, now=129.9)
    assert not catch_up.holds(10_000, now=130.0)


def test_fewer_unread_records_than_the_backlog_hold_nothing():
    catch_up = CatchUp(backlog=10_000, spacing=30.0, last_pass=100.0)
    assert not catch_up.holds(9_999, now=100.1)
    assert not catch_up.holds(0, now=100.1)


def test_a_backlog_of_zero_turns_catching_up_off():
    catch_up = CatchUp(backlog=0, spacing=30.0, last_pass=100.0)
    assert not catch_up.catching_up(10**12)
    assert not catch_up.holds(10**9, now=100.1)


def _settings(**env: str) -> Any:
    return settings_from_env({"DATABASE_URL": "postgresql://unused/db", **env},
                             need_kafka=False)


class _Broker:
    """What the measure finds: `unread` records left on the orders partition."""

    def __init__(self) -> None:
        self.unread = 0
        self.measures = 0

    def measure(self, _conn: Any, _ends: Any, _lateness: Any) -> Any:
        self.measures += 1
        partition = PartitionProgress("orders", 0, 0, 100_000, 100_000 - self.unread, LOW)
        return Watermark(LOW, (("orders", 0),)), [partition]


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch) -> tuple[_Broker, list[dt.datetime]]:
    found, decided = _Broker(), []
    monkeypatch.setattr(loop.watermark, "measure", found.measure)
    monkeypatch.setattr(loop.watermark, "advance", lambda _conn, mark: mark.low)

    def decide_pass(_conn: Any, until: dt.datetime, _policy: Any) -> PassReport:
        decided.append(until)
        return PassReport(until)

    monkeypatch.setattr(loop, "decide_pass", decide_pass)
    return found, decided


def test_while_a_backlog_is_read_a_pass_is_put_off_but_the_watermark_is_kept(broker):
    found, decided = broker
    sweeper = Sweeper(_settings(CASES_CATCH_UP_BACKLOG_RECORDS="10000"))
    marks: list[dt.datetime | None] = []
    sweeper.on_watermark = lambda _mark, _partitions, low: marks.append(low)
    found.unread = 50_000
    assert sweeper.sweep_once(None, None) is not None  # the first pass of the backlog
    assert sweeper.sweep_once(None, None) is None  # put off
    assert sweeper.sweep_once(None, None) is None
    assert len(decided) == 1 and marks == [LOW, LOW, LOW]
    found.unread = 9_999  # read but for less than a backlog: a pass at once
    assert sweeper.sweep_once(None, None) is not None
    assert len(decided) == 2


def test_with_catching_up_off_every_measure_passes(broker):
    found, decided = broker
    sweeper = Sweeper(_settings(CASES_CATCH_UP_BACKLOG_RECORDS="0"))
    found.unread = 50_000
    for _ in range(3):
        sweeper.sweep_once(None, None)
    assert len(decided) == 3


def test_while_catching_up_a_look_measures_once_a_second_without_asking_the_database(broker):
    found, _decided = broker

    class _Looking(Sweeper):
        def _next(self, conn: Any) -> dt.datetime | None:
            return LOW  # long due

    sweeper = _Looking(_settings())
    found.unread = 50_000
    sweeper.sweep_once(None, None)
    # no query: a look that would find something due leads to a pass that is put off
    assert sweeper._look(None, since_measured=0.05) == CATCHING_UP  # type: ignore[arg-type]
    assert sweeper._look(None, since_measured=1.0) == MEASURED  # type: ignore[arg-type]


def test_the_settings_refuse_a_negative_backlog_and_a_spacing_that_is_not_positive():
    from configuration import ConfigurationError
    with pytest.raises(ConfigurationError, match="CASES_CATCH_UP_BACKLOG_RECORDS"):
        _settings(CASES_CATCH_UP_BACKLOG_RECORDS="-1")
    for bad in ("0", "-5", "inf", "nan"):
        with pytest.raises(ConfigurationError, match="CASES_CATCH_UP_PASS_SECONDS"):
            _settings(CASES_CATCH_UP_PASS_SECONDS=bad)
    with pytest.raises(ConfigurationError, match="bad number"):
        _settings(CASES_CATCH_UP_BACKLOG_RECORDS="many")
