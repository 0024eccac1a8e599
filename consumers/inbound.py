"""What the consumer's steps see of a Kafka message: a plain value, so that the live
loop, replay and redrive (which reads a dead letter as the record it was) share them,
and tests build one without a broker."""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, Message


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
        kind, stamp = msg.timestamp()
        return cls(topic=msg.topic() or "", partition=msg.partition() or 0,
                   offset=msg.offset() or 0, key=msg.key(), value=msg.value(),
                   headers=tuple(msg.headers() or ()), timestamp_type=kind,
                   timestamp=stamp)
