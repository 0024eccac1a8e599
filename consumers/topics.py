"""The topics this service reads and writes: creating them (for local runs and tests; in
production the inbound topics belong to their producers), and how much of them Kafka
still keeps (the inbox's retention and the benchmark read it)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import NewTopic

from bootstrap import kafka
from configuration import Settings
from schemas import CASE_EVENTS_TOPIC, INBOUND_TOPICS, dlq_topic


def all_topics() -> list[str]:
    return [*INBOUND_TOPICS, *(dlq_topic(t) for t in INBOUND_TOPICS), CASE_EVENTS_TOPIC]


def create_topics(settings: Settings, partitions: int = 4, timeout: float = 30.0) -> list[str]:
    """Create whichever topics are missing; return their names."""
    admin = kafka.admin(settings)
    existing = set(admin.list_topics(timeout=timeout).topics)
    missing = [t for t in all_topics() if t not in existing]
    if not missing:
        return []
    futures = admin.create_topics(
        [NewTopic(t, num_partitions=partitions, replication_factor=1) for t in missing],
        operation_timeout=timeout)
    for future in futures.values():
        try:
            future.result()
        except KafkaException as exc:
            if exc.args[0].code() != exc.args[0].TOPIC_ALREADY_EXISTS:
                raise
    return missing


#: (topic, partition) -> offset
Positions = dict[tuple[str, int], int]


def reader(settings: Settings) -> Consumer:
    """A consumer that never subscribes, so it joins no group and commits nothing."""
    return kafka.private_consumer(settings)


def watermarks(client: Consumer, topics: Iterable[str], timeout: float = 10.0
               ) -> dict[tuple[str, int], tuple[int, int]]:
    """(first, next) offset of every partition of `topics`; KafkaException for a topic
    the broker does not know, or a partition without a leader after `timeout`."""
    out: dict[tuple[str, int], tuple[int, int]] = {}
    for topic in topics:
        metadata = client.list_topics(topic, timeout=timeout).topics[topic]
        if metadata.error is not None:
            raise KafkaException(metadata.error)
        for partition in metadata.partitions:
            out[topic, partition] = _watermark(client, TopicPartition(topic, partition),
                                               timeout)
    return out


def topic_watermarks(client: Consumer, topic: str, timeout: float = 10.0
                     ) -> dict[int, tuple[int, int]]:
    """`watermarks` of one topic, by partition."""
    return {p: marks for (_, p), marks in watermarks(client, [topic], timeout).items()}


def _watermark(client: Consumer, partition: TopicPartition, timeout: float
               ) -> tuple[int, int]:
    deadline = time.monotonic() + timeout
    while True:
        try:  # a topic just created may not have a leader yet
            low, high = client.get_watermark_offsets(partition, timeout=timeout, cached=False)
            return int(low), int(high)
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def log_starts(settings: Settings, topics: Iterable[str], timeout: float = 10.0) -> Positions:
    """Where each partition's log now begins: Kafka has deleted every record below
    (retention, or deleted records), so nothing can read those again."""
    client = reader(settings)
    try:
        return {tp: low for tp, (low, _) in watermarks(client, topics, timeout).items()}
    finally:
        client.close()


def oldest_record_time(settings: Settings, topics: Iterable[str], timeout: float = 10.0
                       ) -> dt.datetime | None:
    """The timestamp of the oldest record `topics` still keep (None when they are empty):
    the first record of each non-empty partition, read without joining a group."""
    client = reader(settings)
    try:
        kept = {tp: low for tp, (low, high) in watermarks(client, topics, timeout).items()
                if high > low}
        if not kept:
            return None
        client.assign([TopicPartition(t, p, low) for (t, p), low in kept.items()])
        oldest: int | None = None
        deadline = time.monotonic() + timeout
        while kept:
            if time.monotonic() > deadline:
                raise KafkaException(f"could not read the first record of {sorted(kept)}")
            msg = client.poll(0.5)
            if msg is None or msg.error():
                continue
            if kept.pop((msg.topic(), msg.partition()), None) is None:
                continue
            client.pause([TopicPartition(msg.topic(), msg.partition())])
            stamp = msg.timestamp()[1]
            oldest = stamp if oldest is None else min(oldest, stamp)
        return dt.datetime.fromtimestamp(oldest / 1000, dt.UTC) if oldest is not None else None
    finally:
        client.close()
