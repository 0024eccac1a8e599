"""Where topics end and where consumer groups stand, read with plain consumers.

The harness first used the AdminClient (list_offsets, list_consumer_group_offsets) and
librdkafka 2.16 aborted the whole harness process ("rd_kafka_enq_once_del_source_return:
Assertion `eonce->refcnt > 0' failed") right after a broker restart, in two of three
chaos runs; destroying an admin client that had lived through a restart also hung once.
Watermarks and `committed()` on an unsubscribed consumer are older, simpler requests: a
consumer that never subscribes does not join the group whose offsets it reads.
"""

from __future__ import annotations

import threading
import uuid

from confluent_kafka import Consumer, TopicPartition

from configuration import Settings


class OffsetProbe:
    """Owns its consumers; `close` them when done (never left to the garbage collector)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._meta = self._consumer(f"chaos-probe-{uuid.uuid4()}")
        self._groups: dict[str, Consumer] = {}

    def _consumer(self, group: str) -> Consumer:
        return Consumer(self.settings.kafka(**{
            "group.id": group, "enable.auto.commit": False,
            "socket.connection.setup.timeout.ms": 2000, "log_level": 0}))

    def partitions(self, topic: str, timeout: float = 10) -> list[int]:
        metadata = self._meta.list_topics(topic, timeout=timeout).topics[topic]
        if metadata.error is not None:
            raise RuntimeError(f"topic {topic}: {metadata.error}")
        return sorted(metadata.partitions)

    def _watermarks(self, topic: str, timeout: float) -> dict[int, tuple[int, int]]:
        return {p: self._meta.get_watermark_offsets(TopicPartition(topic, p),
                                                    timeout=timeout, cached=False)
                for p in self.partitions(topic, timeout)}

    def end_offsets(self, topic: str, timeout: float = 10) -> dict[int, int]:
        return {p: high for p, (_, high) in self._watermarks(topic, timeout).items()}

    def start_offsets(self, topic: str, timeout: float = 10) -> dict[int, int]:
        return {p: low for p, (low, _) in self._watermarks(topic, timeout).items()}

    def committed(self, group: str, topic: str, timeout: float = 10) -> dict[int, int]:
        """The group's committed offsets on `topic` (partitions without one left out)."""
        with self._lock:
            reader = self._groups.get(group)
            if reader is None:
                reader = self._groups[group] = self._consumer(group)
        wanted = [TopicPartition(topic, p) for p in self.partitions(topic, timeout)]
        return {tp.partition: tp.offset for tp in reader.committed(wanted, timeout=timeout)
                if tp.offset >= 0}

    def close(self) -> None:
        for consumer in [self._meta, *self._groups.values()]:
            consumer.close()
