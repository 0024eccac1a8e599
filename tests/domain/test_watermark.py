"""The low watermark over the inbound partitions (domain.watermark)."""

from __future__ import annotations

import datetime as dt

from domain.watermark import (
    LogEndHistory,
    PartitionProgress,
    held_back,
    low_watermark,
    stored_more,
)

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


def test_a_partition_read_up_to_an_end_seen_earlier_vouches_for_that_moment():
    # its latest record happened a minute ago, but its log was seen ending where it has
    # stored up to 2 s ago: whatever it has not stored reached the broker after that
    lagging = PartitionProgress("a", 0, 0, 9, 4, NOW - 60 * S, read_through=NOW - 2 * S)
    mark = low_watermark([lagging], NOW, LATENESS)
    assert mark.low == NOW - 2 * S - LATENESS and mark.held_by == (("a", 0),)


def test_the_later_of_its_latest_record_and_the_end_it_reached_counts():
    behind = PartitionProgress("a", 0, 0, 9, 4, NOW - 1 * S, read_through=NOW - 30 * S)
    assert low_watermark([behind], NOW, LATENESS).low == NOW - 1 * S - LATENESS
    never_stored = PartitionProgress("b", 0, 0, 9, None, None, read_through=NOW - 5 * S)
    assert low_watermark([never_stored], NOW, LATENESS).low == NOW - 5 * S - LATENESS


def test_the_history_answers_the_last_moment_the_log_ended_at_or_before_a_position():
    history = LogEndHistory()
    history.note(NOW - 3 * S, {("a", 0): 5})
    history.note(NOW - 2 * S, {("a", 0): 5})  # the same end, seen later
    history.note(NOW - 1 * S, {("a", 0): 9})
    assert history.read_through(("a", 0), 4) is None  # not even the first end reached
    assert history.read_through(("a", 0), 5) == NOW - 2 * S
    assert history.read_through(("a", 0), 8) == NOW - 2 * S
    assert history.read_through(("a", 0), 9) == NOW - 1 * S
    assert history.read_through(("b", 0), 9) is None  # never seen


def test_a_stale_answer_below_an_end_seen_before_is_not_kept():
    history = LogEndHistory()
    history.note(NOW - 2 * S, {("a", 0): 9})
    history.note(NOW, {("a", 0): 7})  # records 7 and 8 were appended before NOW - 2 s
    assert history.read_through(("a", 0), 8) is None
    assert history.read_through(("a", 0), 9) == NOW - 2 * S


def test_the_history_keeps_a_bounded_number_of_ends():
    history = LogEndHistory(keep=3)
    for n in range(10):
        history.note(NOW + n * S, {("a", 0): n})
    assert history.read_through(("a", 0), 6) is None  # ends 0-6 forgotten
    assert history.read_through(("a", 0), 8) == NOW + 8 * S


def test_only_partitions_that_have_read_nothing_hold_it_where_no_measure_can_move_it():
    unread = part("c", 3, None)  # records, none read yet: no watermark at all
    partitions = [part("a", 5, 5), unread]
    assert held_back(low_watermark(partitions, NOW, LATENESS), partitions) == [unread]
    # read part-way: each measure notes a log end that may vouch for it once it stores
    lagging = [part("a", 5, 5), part("b", 9, 4, NOW - 60 * S)]
    assert held_back(low_watermark(lagging, NOW, LATENESS), lagging) is None
    caught_up = [part("a", 5, 5), part("b", 9, 9, NOW - 60 * S)]  # the clock moves it
    assert held_back(low_watermark(caught_up, NOW, LATENESS), caught_up) is None


def test_until_a_partition_that_has_read_nothing_stores_no_later_measure_gives_one():
    before = [part("a", 5, 5, NOW - 2 * S), part("c", 9, None)]
    holding = held_back(low_watermark(before, NOW, LATENESS), before)
    assert holding is not None
    # a minute on: a's consumer read more, both logs grew, c's stored nothing
    stored = {("a", 0): (20, NOW + 50 * S)}
    assert not stored_more(holding, stored)
    later = [part("a", 30, 20, NOW + 50 * S), part("c", 40, None)]
    assert low_watermark(later, NOW + 60 * S, LATENESS).low is None
    # c's consumer stores a batch: now a measure gives a watermark
    stored[("c", 0)] = (10, NOW - 30 * S)
    assert stored_more(holding, stored)
    moved = [part("a", 30, 20, NOW + 50 * S), part("c", 40, 10, NOW - 30 * S)]
    assert low_watermark(moved, NOW + 60 * S, LATENESS).low == NOW - 30 * S - LATENESS


def test_a_holding_partition_without_a_stored_row_has_not_stored_more():
    # nothing stored from it in this database; where its group committed gave its offset
    committed_only = part("c", 9, 3)
    assert held_back(low_watermark([committed_only], NOW, LATENESS), [committed_only])
    assert not stored_more([committed_only], {("a", 0): (5, NOW)})
    assert stored_more([committed_only], {("c", 0): (4, NOW - 60 * S)})
