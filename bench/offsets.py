"""Offsets: where topics end, where the service's consumer groups are."""

from __future__ import annotations

import time
import uuid

from confluent_kafka import Consumer, KafkaException, TopicPartition

from configuration import Settings
from consumers.runtime import consumer_group

#: (topic, partition) -> offset
Offsets = dict[tuple[str, int], int]


def _client(settings: Settings, group: str | None = None) -> Consumer:
    return Consumer(settings.kafka(**{"group.id": group or f"bench-{uuid.uuid4()}",
                                      "enable.auto.commit": False}))


def end_offsets(settings: Settings, topics: list[str]) -> Offsets:
    client = _client(settings)
    try:
        ends: Offsets = {}
        for topic in topics:
            metadata = client.list_topics(topic, timeout=30).topics[topic]
            for partition in metadata.partitions:
                ends[topic, partition] = _high_watermark(client, topic, partition)
        return ends
    finally:
        client.close()


def _high_watermark(client: Consumer, topic: str, partition: int) -> int:
    deadline = time.monotonic() + 30
    while True:
        try:  # a topic just created may not have a leader yet
            return int(client.get_watermark_offsets(TopicPartition(topic, partition),
                                                    timeout=10)[1])
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def move_groups_to(settings: Settings, offsets: Offsets) -> None:
    """Commit `offsets` for the service's consumer group of each topic (none may be
    running), so a run reads only what is published after."""
    for topic in {t for t, _ in offsets}:
        client = _client(settings, consumer_group(topic))
        try:
            client.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()
                                   if t == topic], asynchronous=False)
        finally:
            client.close()


class GroupWatcher:
    """Reads the committed offsets of the service's consumer groups (without joining)."""

    def __init__(self, settings: Settings, topics: list[str]) -> None:
        self.clients = {t: _client(settings, consumer_group(t)) for t in topics}

    def lag(self, topic: str, ends: Offsets) -> int:
        partitions = [TopicPartition(t, p) for (t, p) in ends if t == topic]
        committed = self.clients[topic].committed(partitions, timeout=30)
        return sum(max(0, ends[topic, c.partition] - max(c.offset, 0)) for c in committed)

    def close(self) -> None:
        for client in self.clients.values():
            client.close()
