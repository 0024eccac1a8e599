"""Each partition's progress as the sweeper reads it: what the consumers stored, or, for a
partition nothing was stored from in this database, where its consumer group committed."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from confluent_kafka import OFFSET_INVALID, KafkaException, TopicPartition
from confluent_kafka.admin import OffsetSpec

from domain.watermark import low_watermark
from schemas import INBOUND_TOPICS
from sweeper.watermark import LogEnds, partitions_read

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


class _Done:
    def __init__(self, value: object) -> None:
        self.value = value

    def result(self, _timeout: float | None = None) -> object:
        return self.value


class _Admin:
    """An AdminClient whose broker answers `ends` for the latest offsets (0 earliest)."""

    def __init__(self, ends: dict[tuple[str, int], int]) -> None:
        self.ends = ends

    def list_topics(self, timeout: float = 0) -> SimpleNamespace:
        topics = {t: SimpleNamespace(error=None, partitions={
            p: None for (topic, p) in self.ends if topic == t}) for t in INBOUND_TOPICS}
        return SimpleNamespace(topics=topics)

    def list_offsets(self, wanted: dict[TopicPartition, object], request_timeout: float = 0
                     ) -> dict[TopicPartition, _Done]:
        latest = OffsetSpec.latest()
        return {tp: _Done(SimpleNamespace(offset=self.ends[(tp.topic, tp.partition)]
                                          if type(spec) is type(latest) else 0))
                for tp, spec in wanted.items()}


ENDS = {(t, 0): 10 for t in INBOUND_TOPICS}


def test_a_broker_shutting_down_answers_no_offset_and_the_watermark_does_not_move():
    """Seen on a broker stopping: OFFSET_INVALID for every partition, without an error;
    taken as log ends, every partition would look read to its end."""
    admin = _Admin(dict(ENDS))
    ends = LogEnds(admin)  # type: ignore[arg-type]  # a fake at the boundary
    assert ends.read(NOW)[("orders", 0)] == (0, 10)
    admin.ends = dict.fromkeys(ENDS, OFFSET_INVALID)
    with pytest.raises(KafkaException):
        ends.read(NOW)


def test_a_log_end_never_moves_back():
    admin = _Admin(dict(ENDS))
    ends = LogEnds(admin)  # type: ignore[arg-type]  # a fake at the boundary
    ends.read(NOW)
    admin.ends = {**ENDS, ("orders", 0): 3}  # a stale answer
    assert ends.read(NOW)[("orders", 0)] == (0, 10)


def test_a_partition_stored_up_to_an_end_read_before_vouches_for_when_it_was_read():
    admin = _Admin(dict(ENDS))
    ends = LogEnds(admin)  # type: ignore[arg-type]  # a fake at the boundary
    ends.read(NOW - dt.timedelta(seconds=1))  # every log ends at 10
    admin.ends = {**ENDS, ("orders", 0): 14}
    logs = ends.read(NOW)  # four more orders since
    old = NOW - dt.timedelta(minutes=1)  # the orders stored happened a minute ago
    stored = {where: (10, old) for where in ENDS}
    partitions = partitions_read(logs, stored, {}, ends.history)
    assert [p.read_through for p in partitions if p.unread] == [NOW - dt.timedelta(seconds=1)]
    assert low_watermark(partitions, NOW, LATENESS).low == (
        NOW - dt.timedelta(seconds=1) - LATENESS)
