"""Dead letters: the original bytes and key, unchanged, with Spring Kafka's `kafka_dlt-*`
headers (numbers big-endian, as Spring's DeadLetterPublishingRecoverer writes them), so
the tools that read Spring's dead-letter topics read ours."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from confluent_kafka import Message

ORIGINAL_TOPIC = "kafka_dlt-original-topic"
ORIGINAL_PARTITION = "kafka_dlt-original-partition"
ORIGINAL_OFFSET = "kafka_dlt-original-offset"
ORIGINAL_TIMESTAMP = "kafka_dlt-original-timestamp"
ORIGINAL_TIMESTAMP_TYPE = "kafka_dlt-original-timestamp-type"
ORIGINAL_CONSUMER_GROUP = "kafka_dlt-original-consumer-group"
EXCEPTION_FQCN = "kafka_dlt-exception-fqcn"
EXCEPTION_MESSAGE = "kafka_dlt-exception-message"
EXCEPTION_STACKTRACE = "kafka_dlt-exception-stacktrace"

#: a reason is a sentence; cut, it can never make a dead letter too large for its topic
MAX_REASON = 1000

_TIMESTAMP_TYPES = {0: "NO_TIMESTAMP_TYPE", 1: "CREATE_TIME", 2: "LOG_APPEND_TIME"}


@dataclass(frozen=True)
class DeadLetter:
    """Why a record is dead: the error's class (qualified name) and message."""

    error: str
    reason: str


def dlq_headers(msg: Message, group: str, letter: DeadLetter) -> list[tuple[str, bytes]]:
    ts_type, ts = msg.timestamp()
    reason = letter.reason if len(letter.reason) <= MAX_REASON else (
        letter.reason[:MAX_REASON] + "...")
    return [
        (ORIGINAL_TOPIC, msg.topic().encode()),
        (ORIGINAL_PARTITION, struct.pack(">i", msg.partition())),
        (ORIGINAL_OFFSET, struct.pack(">q", msg.offset())),
        (ORIGINAL_TIMESTAMP, struct.pack(">q", ts)),
        (ORIGINAL_TIMESTAMP_TYPE, _TIMESTAMP_TYPES.get(ts_type, "CREATE_TIME").encode()),
        (ORIGINAL_CONSUMER_GROUP, group.encode()),
        (EXCEPTION_FQCN, letter.error.encode()),
        (EXCEPTION_MESSAGE, reason.encode()),
        (EXCEPTION_STACKTRACE, f"{letter.error}: {reason}".encode()),
    ]


def read_headers(headers: list[tuple[str, bytes]] | None) -> dict[str, str | int]:
    """The `kafka_dlt-*` headers of a dead letter, decoded."""
    out: dict[str, str | int] = {}
    for name, value in headers or []:
        if name in (ORIGINAL_PARTITION,) and len(value) == 4:
            out[name] = struct.unpack(">i", value)[0]
        elif name in (ORIGINAL_OFFSET, ORIGINAL_TIMESTAMP) and len(value) == 8:
            out[name] = struct.unpack(">q", value)[0]
        elif name.startswith("kafka_dlt-"):
            out[name] = value.decode(errors="replace")
    return out
