"""The consumer lag gauge per assigned partition (bootstrap/lag.py), with a stand-in for
the Kafka consumer's answers (the real consumer: tests/integration/test_endpoints.py)."""

from __future__ import annotations

from confluent_kafka import OFFSET_INVALID, TopicPartition
from prometheus_client import REGISTRY

from bootstrap.lag import ConsumerLag

TOPIC = "messages"


class Answers:
    """What a consumer says: its assignment, positions, committed offsets and the log
    ends librdkafka last heard."""

    def __init__(self, positions: dict[int, int], committed: dict[int, int],
                 ends: dict[int, tuple[int, int]]) -> None:
        self.positions, self.committed_offsets, self.ends = positions, committed, ends
        self.committed_asked: list[list[int]] = []

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition(TOPIC, p) for p in self.positions]

    def position(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        return [TopicPartition(TOPIC, tp.partition, self.positions[tp.partition])
                for tp in partitions]

    def committed(self, partitions: list[TopicPartition], timeout: float
                  ) -> list[TopicPartition]:
        self.committed_asked.append([tp.partition for tp in partitions])
        return [TopicPartition(TOPIC, tp.partition,
                               self.committed_offsets.get(tp.partition, OFFSET_INVALID))
                for tp in partitions]

    def get_watermark_offsets(self, tp: TopicPartition, cached: bool) -> tuple[int, int]:
        assert cached  # never a request to the broker from the poll loop
        return self.ends[tp.partition]


def lag(partition: int) -> float | None:
    return REGISTRY.get_sample_value("order_cases_consumer_lag_records",
                                     {"topic": TOPIC, "partition": str(partition)})


def test_every_assigned_partition_has_a_lag_read_or_idle() -> None:
    consumer = Answers(
        positions={0: 10, 1: OFFSET_INVALID, 2: OFFSET_INVALID},
        committed={1: 7},  # partition 2: nothing ever committed
        ends={0: (0, 15), 1: (0, 7), 2: (3, 9)})
    gauge = ConsumerLag(TOPIC, on_broker_error=lambda: None)
    gauge.record(consumer)  # type: ignore[arg-type]
    assert [lag(p) for p in (0, 1, 2)] == [5, 0, 6]

    consumer.ends[1] = (0, 9)  # two records arrive on the idle partition
    gauge.record(consumer)  # type: ignore[arg-type]
    assert lag(1) == 2
    assert consumer.committed_asked == [[1, 2]]  # asked once, not every time round


def test_a_partition_moved_to_another_member_reads_0_here() -> None:
    consumer = Answers(positions={0: 10, 1: 4}, committed={}, ends={0: (0, 15), 1: (0, 9)})
    gauge = ConsumerLag(TOPIC, on_broker_error=lambda: None)
    gauge.record(consumer)  # type: ignore[arg-type]
    del consumer.positions[1]
    gauge.record(consumer)  # type: ignore[arg-type]
    assert (lag(0), lag(1)) == (5, 0)
