"""The topics this service reads and writes: creating them (`cases setup`; in production
the inbound topics may belong to their producers), checking that they exist (`cases
run`), and how much of them Kafka still keeps (`cases status`, replay, redrive and the
benchmark read it)."""

from __future__ import annotations

import time
from collections.abc import Iterable

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
    ResourceType,
)

from bootstrap import kafka
from configuration import Settings
from schemas import CASE_EVENTS_TOPIC, INBOUND_TOPICS, dlq_topic


def all_topics() -> list[str]:
    return [*INBOUND_TOPICS, *(dlq_topic(t) for t in INBOUND_TOPICS), CASE_EVENTS_TOPIC]


#: Inbound records carry the broker's append time, whatever the producer's clock says
#: (event time and its watermark rest on it); the dead letters keep the original record's
#: time and the case events the relay's.
INBOUND_TOPIC_CONFIG = {"message.timestamp.type": "LogAppendTime"}


def new_topic(topic: str, partitions: int, replication_factor: int) -> NewTopic:
    """-1 for either leaves it to the broker (`num.partitions`, `default.replication.factor`)."""
    config = INBOUND_TOPIC_CONFIG if topic in INBOUND_TOPICS else {}
    return NewTopic(topic, num_partitions=partitions, replication_factor=replication_factor,
                    config=dict(config))


def create_topics(settings: Settings, partitions: int | None = None,
                  replication_factor: int | None = None, timeout: float = 30.0) -> list[str]:
    """Create whichever topics are missing, with `partitions` and `replication_factor`
    (by default the settings', CASES_TOPIC_PARTITIONS / CASES_TOPIC_REPLICATION_FACTOR,
    themselves by default the broker's); return their names. Topics that exist are left
    as they are."""
    partitions = settings.topic_partitions if partitions is None else partitions
    replication_factor = (settings.topic_replication_factor if replication_factor is None
                          else replication_factor)
    admin = _admin(settings)
    missing = _missing(admin, timeout)
    if not missing:
        return []
    futures = admin.create_topics(
        [new_topic(t, partitions, replication_factor) for t in missing],
        operation_timeout=timeout)
    for future in futures.values():
        try:
            future.result()
        except KafkaException as exc:
            if exc.args[0].code() != exc.args[0].TOPIC_ALREADY_EXISTS:
                raise
    return missing


def stamp_inbound_topics(settings: Settings, timeout: float = 30.0) -> list[str]:
    """Set INBOUND_TOPIC_CONFIG on the inbound topics that exist without it (made before
    it was the rule, or by hand); return their names. Only that setting is touched."""
    admin = _admin(settings)
    existing = set(admin.list_topics(timeout=timeout).topics)
    topics = [t for t in INBOUND_TOPICS if t in existing]
    if not topics:
        return []
    described = admin.describe_configs(
        [ConfigResource(ResourceType.TOPIC, t) for t in topics], request_timeout=timeout)
    unstamped = []
    for resource, future in described.items():
        config = future.result()
        if any(config[name].value != value for name, value in INBOUND_TOPIC_CONFIG.items()):
            unstamped.append(resource.name)
    if not unstamped:
        return []
    altered = admin.incremental_alter_configs(
        [ConfigResource(ResourceType.TOPIC, t, incremental_configs=[
            ConfigEntry(name, value, incremental_operation=AlterConfigOpType.SET)
            for name, value in INBOUND_TOPIC_CONFIG.items()]) for t in unstamped],
        request_timeout=timeout)
    for future in altered.values():
        future.result()
    return sorted(unstamped)


def missing_topics(settings: Settings, timeout: float = 10.0) -> list[str]:
    """The service's topics the cluster does not have (KafkaException when it cannot
    be asked); `cases run` needs every one, `cases setup` creates them."""
    return _missing(_admin(settings), timeout)


def _admin(settings: Settings) -> AdminClient:
    return kafka.admin(settings)


def _missing(admin: AdminClient, timeout: float) -> list[str]:
    existing = set(admin.list_topics(timeout=timeout).topics)
    return [t for t in all_topics() if t not in existing]


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

