"""bench/compare.py: the order of the passes and what the summary concludes."""

from __future__ import annotations

from pathlib import Path

from bench.compare import Arm, pass_order, summary
from bench.pipeline import Drain
from bench.run import PipelineRun

RECORDS = {"orders": 600, "carrier-tracking": 400}


def _run(cpu_per_record: float, decided: float = 10.0) -> PipelineRun:
    # the consumer's CPU makes the CPU per 1,000 records: 1,000 records in all
    return PipelineRun("p", dict(RECORDS), Drain(decided=decided), {},
                       {"orders": cpu_per_record, "sweeper": 0.0}, {})


def _arms(base: list[float], head: list[float]) -> list[Arm]:
    return [Arm("base", "a" * 40, Path("/a"), [_run(c) for c in base]),
            Arm("head", "checkout", Path("/b"), [_run(c) for c in head])]


def test_each_arm_goes_first_as_often_as_second() -> None:
    arms = _arms([], [])
    order = [arm.name for arm in pass_order(arms, 4)]
    assert order == ["base", "head", "head", "base", "base", "head", "head", "base"]
    assert [arm.name for arm in pass_order(arms, 1)] == ["base", "head"]


def test_a_change_every_pass_shows_is_named_so() -> None:
    lines = summary(_arms([0.140, 0.138, 0.142], [0.126, 0.129, 0.127]))
    assert lines[-1] == ("head against base: -9.3% CPU per record (medians); every pass of "
                         "one below every pass of the other")
    assert "0.1400 (0.1380-0.1420)" in lines[2] and "0.1270 (0.1260-0.1290)" in lines[2]


def test_passes_that_overlap_are_called_the_machine() -> None:
    lines = summary(_arms([0.131, 0.126], [0.128, 0.128]))
    assert lines[-1].endswith("the passes overlap: within what the machine moves by")


def test_one_pass_each_concludes_nothing_about_spread() -> None:
    assert summary(_arms([0.130], [0.120]))[-1].endswith(
        "one pass each: no spread to judge it by")


def test_processes_not_measured_in_every_pass_are_left_out() -> None:
    lines = summary(_arms([0.130, 0.131], [0.120, 0.121]))
    assert any(line.strip().startswith("orders, CPU-s") for line in lines)
    assert not any("postgres" in line or "kafka" in line for line in lines)
