"""Each partition's progress as the sweeper reads it: what the consumers stored, or, for a
partition nothing was stored from in this database, where its consumer group committed."""

from __future__ import annotations

import datetime as dt

from domain.watermark import low_watermark
from sweeper.watermark import partitions_read

NOW = dt.datetime(2026, 3, 14, 12, 0, tzinfo=dt.UTC)
LATENESS = dt.timedelta(seconds=10)
LOGS = {("orders", 0): (0, 40), ("payments", 0): (0, 25)}


def test_a_fresh_database_beside_groups_that_read_everything_lets_time_move():
    stored = {("orders", 0): (40, NOW - dt.timedelta(minutes=1))}
    partitions = partitions_read(LOGS, stored, committed={("payments", 0): 25})
    assert [(p.next_offset, p.unread) for p in partitions] == [(40, 0), (25, 0)]
    assert low_watermark(partitions, NOW, LATENESS).low == NOW - LATENESS


def test_a_group_that_committed_short_of_the_end_holds_time_until_a_record_is_stored():
    partitions = partitions_read(LOGS, {("orders", 0): (40, NOW)},
                                 committed={("payments", 0): 20})
    mark = low_watermark(partitions, NOW, LATENESS)
    assert mark.low is None and mark.held_by == (("payments", 0),)


def test_what_was_stored_counts_before_what_was_committed():
    frontier = NOW - dt.timedelta(minutes=5)
    partitions = partitions_read(LOGS, {("orders", 0): (40, NOW),
                                        ("payments", 0): (20, frontier)},
                                 committed={("payments", 0): 25})
    assert partitions[1].next_offset == 20
    assert low_watermark(partitions, NOW, LATENESS).low == frontier - LATENESS


def test_a_group_that_never_committed_has_read_nothing():
    partitions = partitions_read(LOGS, {("orders", 0): (40, NOW)}, committed={})
    assert low_watermark(partitions, NOW, LATENESS).low is None
