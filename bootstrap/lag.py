"""A consumer's lag per assigned partition (`order_cases_consumer_lag_records`): where
the partition's log ends, as librdkafka last heard from the broker, less where the
consumer is. A partition it has read nothing from since it was assigned (an idle one,
or one whose records are all read) has no position yet: its group's committed offset
stands in, asked of the broker once per assignment, so that a caught-up partition reads
0 instead of being left out."""

from __future__ import annotations

import time
from collections.abc import Callable

from confluent_kafka import Consumer, KafkaException, TopicPartition

from observability import metrics

#: lag is read from librdkafka's cached log ends at most this often
LAG_EVERY_SECONDS = 1.0
#: how long the poll loop may wait for the committed offsets, and how long it leaves
#: the broker alone after it could not answer
COMMITTED_TIMEOUT_SECONDS = 2.0
COMMITTED_RETRY_SECONDS = 30.0


class ConsumerLag:
    """Sets the lag gauge of one topic's assigned partitions, from the poll loop."""

    def __init__(self, topic: str, on_broker_error: Callable[[], None]) -> None:
        self.topic, self.on_broker_error = topic, on_broker_error
        self._due = 0.0
        self._committed_due = 0.0
        #: partitions without a position: their group's committed offset
        self._committed: dict[int, int] = {}
        #: partitions whose lag this process has set
        self._reported: set[int] = set()

    def polled(self, consumer: Consumer) -> None:
        if time.monotonic() >= self._due:
            self._due = time.monotonic() + LAG_EVERY_SECONDS
            try:
                self.record(consumer)
            except KafkaException:
                self.on_broker_error()

    def record(self, consumer: Consumer) -> None:
        assigned = {tp.partition for tp in consumer.assignment()}
        positions = consumer.position(
            [TopicPartition(self.topic, p) for p in sorted(assigned)]) if assigned else []
        self._committed = {p: o for p, o in self._committed.items() if p in assigned}
        self._ask_committed([tp.partition for tp in positions if tp.offset < 0
                             and tp.partition not in self._committed], consumer)
        for tp in positions:
            low, high = consumer.get_watermark_offsets(
                TopicPartition(self.topic, tp.partition), cached=True)
            at = tp.offset if tp.offset >= 0 else self._committed.get(tp.partition, -1)
            if at < 0:
                at = low  # nothing committed: the group reads from the log's start
            if high >= 0 and at >= 0:
                self._set(tp.partition, max(0, high - at))
        # a partition gone to another member: 0 here, its owner's figure is the larger
        for partition in self._reported - assigned:
            self._set(partition, 0)
        self._reported &= assigned

    def _ask_committed(self, partitions: list[int], consumer: Consumer) -> None:
        if not partitions or time.monotonic() < self._committed_due:
            return
        try:
            found = consumer.committed([TopicPartition(self.topic, p) for p in partitions],
                                       timeout=COMMITTED_TIMEOUT_SECONDS)
        except KafkaException:
            self._committed_due = time.monotonic() + COMMITTED_RETRY_SECONDS
            raise
        self._committed.update({tp.partition: tp.offset for tp in found})

    def _set(self, partition: int, lag: int) -> None:
        metrics.CONSUMER_LAG.labels(self.topic, str(partition)).set(lag)
        self._reported.add(partition)
