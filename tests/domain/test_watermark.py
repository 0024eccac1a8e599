"""The low watermark over the inbound partitions (domain.watermark)."""

from __future__ import annotations

import datetime as dt

from domain.watermark import PartitionProgress, low_watermark

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
LATENESS = dt.timedelta(seconds=10)
S = dt.timedelta(seconds=1)


def part(name: str, end: int, stored: int | None, frontier: dt.datetime | None = None,
         start: int = 0) -> PartitionProgress:
    return PartitionProgress(name, 0, start, end, stored, frontier)


def test_partitions_with_nothing_unread_vouch_for_the_wall_clock_less_the_lateness():
    mark = low_watermark([part("a", 5, 5, NOW - 60 * S), part("b", 0, None)], NOW, LATENESS)
    assert mark.low == NOW - LATENESS and mark.held_by == ()


def test_a_partition_with_records_unread_holds_it_at_what_it_has_read_less_the_lateness():
    mark = low_watermark([part("a", 5, 5), part("b", 9, 4, NOW - 60 * S)], NOW, LATENESS)
    assert mark.low == NOW - 60 * S - LATENESS and mark.held_by == (("b", 0),)


def test_a_partition_with_records_but_nothing_read_yet_holds_everything():
    mark = low_watermark([part("a", 5, 5), part("b", 3, None)], NOW, LATENESS)
    assert mark.low is None and mark.held_by == (("b", 0),)


def test_no_record_moves_it_ahead_of_the_wall_clock():
    mark = low_watermark([part("a", 9, 4, NOW + 3600 * S)], NOW, LATENESS)
    assert mark.low == NOW - LATENESS


def test_records_the_broker_deleted_unread_are_not_waited_for():
    # retention deleted offsets 0-99 before the group read them: nothing left unread
    mark = low_watermark([part("a", 100, 40, NOW - 3600 * S, start=100)], NOW, LATENESS)
    assert mark.low == NOW - LATENESS


def test_the_least_of_several_lagging_partitions_wins():
    mark = low_watermark([part("a", 9, 4, NOW - 30 * S), part("b", 9, 4, NOW - 90 * S),
                          part("c", 9, 4, NOW - 90 * S)], NOW, LATENESS)
    assert mark.low == NOW - 100 * S and mark.held_by == (("b", 0), ("c", 0))
