"""Offsets: stored for librdkafka to commit only once a batch is stored and its dead
letters acknowledged; committed synchronously when partitions are handed over."""

from __future__ import annotations

from collections.abc import Iterable

import structlog
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from consumers.inbound import InboundMessage

log = structlog.get_logger("consumers.offsets")


def store_offsets(consumer: Consumer, topic: str, messages: Iterable[InboundMessage]) -> None:
    """Store, per partition, the offset after the batch's last message (the next to read:
    `commit(message=...)` semantics, not the message's own offset)."""
    last: dict[int, int] = {}
    for msg in messages:
        last[msg.partition] = max(last.get(msg.partition, -1), msg.offset)
    if not last:
        return
    try:
        consumer.store_offsets(offsets=[TopicPartition(topic, p, o + 1)
                                        for p, o in sorted(last.items())])
    except KafkaException as exc:  # a partition revoked meanwhile: its new owner replays
        log.warning("store_offsets_failed", topic=topic, error=str(exc))


def commit_for_handover(consumer: Consumer, topic: str) -> None:
    """Commit what this member stored, before another takes the partitions over."""
    try:
        consumer.commit(asynchronous=False)
    except KafkaException as exc:
        if exc.args[0].code() != KafkaError._NO_OFFSET:
            log.warning("commit_on_revoke_failed", topic=topic, error=str(exc))
