"""What drained means: lag, watermark, undecided records, outbox and dead letters all
at once; a figure that could not be read is never taken for done."""

from __future__ import annotations

import dataclasses

import pytest

from chaos.drain import WATERMARK_SLACK, Progress

DONE = Progress(lag={"orders": 0, "payments": 0}, watermark_behind=1.0, undecided=0,
                unpublished=0, dead_letters=0)


def test_everything_at_zero_is_done():
    assert DONE.done()


@pytest.mark.parametrize("change", [
    {"lag": {"orders": 0, "payments": 3}},
    {"lag": {"orders": 0, "payments": None}},
    {"lag": {}},
    {"watermark_behind": None},
    {"watermark_behind": WATERMARK_SLACK.total_seconds() + 1},
    {"undecided": 2},
    {"undecided": None},
    {"unpublished": 1},
    {"unpublished": None},
    {"dead_letters": 1},
    {"dead_letters": None},
])
def test_any_figure_not_done_or_unknown_is_not_done(change):
    assert not dataclasses.replace(DONE, **change).done()


def test_dead_letters_the_workload_makes_are_expected():
    assert dataclasses.replace(DONE, dead_letters=2).done(expected_dead_letters=2)
