"""Offsets: where topics end, where the service's consumer groups are."""

from __future__ import annotations

import uuid

from confluent_kafka import Consumer, TopicPartition

from bootstrap.kafka import consumer_group
from configuration import Settings
from consumers.topics import reader, watermarks

#: (topic, partition) -> offset
Offsets = dict[tuple[str, int], int]


def _client(settings: Settings, group: str | None = None) -> Consumer:
    return Consumer(settings.kafka(**{"group.id": group or f"bench-{uuid.uuid4()}",
                                      "enable.auto.commit": False}))


def end_offsets(settings: Settings, topics: list[str]) -> Offsets:
    client = reader(settings)
    try:
        return {tp: high for tp, (_, high) in watermarks(client, topics, timeout=30).items()}
    finally:
        client.close()


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
