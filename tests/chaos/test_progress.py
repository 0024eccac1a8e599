"""The drain's clock: work as a fraction of the baseline's, and the baseline's second
at which it had done as much."""

from __future__ import annotations

import pytest

from chaos.progress import Pace, Work, WorkWatch
from chaos.trial import MAX_LAG, Trial, _drain_clock

TOTAL = Work(stored=100, decided=50, published=10)


def test_storing_deciding_and_publishing_weigh_alike():
    assert Work().fraction(TOTAL) == 0
    assert Work(100, 0, 0).fraction(TOTAL) == pytest.approx(1 / 3)
    assert Work(100, 25, 5).fraction(TOTAL) == pytest.approx(2 / 3)
    assert TOTAL.fraction(TOTAL) == 1
    assert Work(200, 50, 10).fraction(TOTAL) == 1  # never past the end
    assert Work(100, 0, 0).fraction(Work(100, 0, 0)) == 1  # nothing to do is done


PACE = Pace.of([(1.0, Work()), (2.0, Work()), (4.0, Work(100, 0, 0)),
                (5.0, Work(90, 0, 0)),  # a reading behind the one before: ignored
                (6.0, Work(100, 0, 0)), (8.0, TOTAL)], TOTAL)


def test_the_baseline_s_second_with_as_much_work_done():
    assert PACE.seconds_at(0.0) == 2.0  # the last second nothing was done yet
    assert PACE.seconds_at(1 / 6) == pytest.approx(3.0)
    assert PACE.seconds_at(1 / 3) == pytest.approx(6.0)  # no progress from 4 s to 6 s
    assert PACE.seconds_at(2 / 3) == pytest.approx(7.0)
    assert PACE.seconds_at(1.0) == 8.0


def test_the_clock_never_goes_back():
    seconds = [PACE.seconds_at(n / 100) for n in range(101)]
    assert seconds == sorted(seconds)


def test_the_chaos_run_s_clock_follows_its_work_within_bounds(tmp_path):
    trial = Trial("chaos", items=[], sweep_at="", state_dir=tmp_path, log_dir=tmp_path,
                  pace=PACE, total_work=TOTAL)
    work = WorkWatch("unused")
    clock = _drain_clock(trial, work)
    assert clock(1.0) == 1.0  # not ahead of the wall clock while nothing is done
    assert clock(30.0) == 2.0  # nothing done yet: where the baseline began its work
    work.latest = Work(100, 25, 5)
    assert clock(30.0) == pytest.approx(7.0)
    assert clock(MAX_LAG + 50.0) == 50.0  # never more than MAX_LAG behind
    trial.pace = None
    assert _drain_clock(trial, work)(30.0) == 30.0  # the baseline: the wall clock
