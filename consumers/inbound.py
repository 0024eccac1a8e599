"""What the consumer's steps see of a Kafka message: a plain value, so that the live
loop, replay and redrive (which reads a dead letter as the record it was) share them,
and tests build one without a broker."""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, Message

from domain.values import assemble


@dataclass(frozen=True)
class InboundMessage:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...] = ()
    #: librdkafka's timestamp type (0 none, 1 create time, 2 log append time) and ms
    timestamp_type: int = TIMESTAMP_NOT_AVAILABLE
    timestamp: int = -1

    @property
    def position(self) -> tuple[int, int]:
        return self.partition, self.offset

    @classmethod
    def of(cls, msg: Message) -> InboundMessage:
        """From a message librdkafka delivered (not an error event)."""
        topic, partition, offset = position_of(msg)
        kind, stamp = msg.timestamp()
        # built as unpickling builds it: made for every message read (domain.values)
        return assemble(cls, {"topic": topic, "partition": partition, "offset": offset,
                              "key": msg.key(), "value": msg.value(),
                              "headers": headers_of(msg), "timestamp_type": kind,
                              "timestamp": stamp})


def position_of(msg: Message) -> tuple[str, int, int]:
    """Topic, partition and offset of a delivered message (the client types them as
    optional because an error event has none)."""
    topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
    if topic is None or partition is None or offset is None:
        raise ValueError("an error event has no position")
    return topic, partition, offset


def headers_of(msg: Message) -> tuple[tuple[str, bytes | None], ...]:
    """A delivered message's headers as (name, bytes) pairs, in their order."""
    raw = msg.headers() or ()
    pairs = raw.items() if isinstance(raw, dict) else raw
    return tuple((name, value.encode() if isinstance(value, str) else value)
                 for name, value in pairs)
