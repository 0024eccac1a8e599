"""The dead-letter policy: a record that cannot be decoded or breaks the contract goes to
`<topic>.dlq` unchanged (its key, value and own headers), with the `kafka_dlt-*` headers
Spring Kafka's DeadLetterPublishingRecoverer writes (numbers big-endian, as it writes
them), so the tools that read Spring's dead-letter topics read ours; and the consumer
moves on only once the broker has acknowledged it."""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

import structlog
from confluent_kafka import KafkaError, KafkaException, Message

from bootstrap.kafka import Producer
from consumers.inbound import InboundMessage
from schemas import dlq_topic

log = structlog.get_logger("consumers.dead_letters")

ORIGINAL_TOPIC = "kafka_dlt-original-topic"
ORIGINAL_PARTITION = "kafka_dlt-original-partition"
ORIGINAL_OFFSET = "kafka_dlt-original-offset"
ORIGINAL_TIMESTAMP = "kafka_dlt-original-timestamp"
ORIGINAL_TIMESTAMP_TYPE = "kafka_dlt-original-timestamp-type"
ORIGINAL_CONSUMER_GROUP = "kafka_dlt-original-consumer-group"
EXCEPTION_FQCN = "kafka_dlt-exception-fqcn"
EXCEPTION_MESSAGE = "kafka_dlt-exception-message"
EXCEPTION_STACKTRACE = "kafka_dlt-exception-stacktrace"
PREFIX = "kafka_dlt-"

#: a reason is a sentence; cut, it can never make a dead letter too large for its topic
MAX_REASON = 1000
#: ids are at most 128 characters, so no key of the contract (an order id, or a carrier
#: and tracking number) takes more than 1028 bytes of UTF-8
MAX_KEY_BYTES = 2048

TIMESTAMP_TYPES = {0: "NO_TIMESTAMP_TYPE", 1: "CREATE_TIME", 2: "LOG_APPEND_TIME"}


@dataclass(frozen=True)
class DeadLetter:
    """Why a record is dead: the error's class (qualified name) and what is wrong."""

    error: str
    reason: str

    @classmethod
    def of(cls, exc: BaseException) -> DeadLetter:
        return cls(qualified(type(exc)), (str(exc).splitlines() or [type(exc).__name__])[0])


def qualified(kind: type[BaseException]) -> str:
    """An exception's class as the `kafka_dlt-exception-fqcn` header names it."""
    return f"{kind.__module__}.{kind.__qualname__}"


def dlq_headers(msg: InboundMessage, group: str, letter: DeadLetter
                ) -> list[tuple[str, bytes]]:
    """The original's own headers (a trace context, say), then Spring's."""
    reason = letter.reason if len(letter.reason) <= MAX_REASON else (
        letter.reason[:MAX_REASON] + "...")
    own = [(name, value if value is not None else b"") for name, value in msg.headers
           if not name.startswith(PREFIX)]
    return [
        *own,
        (ORIGINAL_TOPIC, msg.topic.encode()),
        (ORIGINAL_PARTITION, struct.pack(">i", msg.partition)),
        (ORIGINAL_OFFSET, struct.pack(">q", msg.offset)),
        (ORIGINAL_TIMESTAMP, struct.pack(">q", msg.timestamp)),
        (ORIGINAL_TIMESTAMP_TYPE,
         TIMESTAMP_TYPES.get(msg.timestamp_type, "CREATE_TIME").encode()),
        (ORIGINAL_CONSUMER_GROUP, group.encode()),
        (EXCEPTION_FQCN, letter.error.encode()),
        (EXCEPTION_MESSAGE, reason.encode()),
        (EXCEPTION_STACKTRACE, f"{letter.error}: {reason}".encode()),
    ]


def read_headers(headers: Iterable[tuple[str, bytes | None]] | None) -> dict[str, str | int]:
    """The `kafka_dlt-*` headers of a dead letter, decoded as far as they can be (a header
    written by another tool may be empty, null or of another size: it is shown as text,
    or left out when it has no value)."""
    out: dict[str, str | int] = {}
    for name, value in headers or ():
        if not name.startswith(PREFIX) or value is None:
            continue
        if name == ORIGINAL_PARTITION and len(value) == 4:
            out[name] = struct.unpack(">i", value)[0]
        elif name in (ORIGINAL_OFFSET, ORIGINAL_TIMESTAMP) and len(value) == 8:
            out[name] = struct.unpack(">q", value)[0]
        else:
            out[name] = value.decode(errors="replace")
    return out


class DeadLetterPublisher:
    """Sends one batch's dead letters and waits for the broker to acknowledge them all."""

    def __init__(self, producer: Producer, topic: str, group: str) -> None:
        self.producer, self.topic, self.group = producer, topic, group

    def send(self, dead: list[tuple[InboundMessage, DeadLetter]]) -> None:
        """Raises KafkaException when any is not acknowledged (the batch's offsets are
        then not stored, and it is read again)."""
        if not dead:
            return
        failures: list[str] = []
        too_large: list[tuple[InboundMessage, DeadLetter]] = []
        for msg, letter in dead:
            self._produce(msg, letter, msg.value, msg.key, failures, too_large)
            # the reason names a field, never its value (personal data) in the log
            log.warning("dead_letter", topic=self.topic, partition=msg.partition,
                        offset=msg.offset, error=letter.error)
        remaining = self.producer.flush(30)
        # An original too large for the DLQ with its headers (possible only above
        # CASES_MAX_RECORD_BYTES) goes as headers alone (and its key, unless that is what
        # is too large): they say where the original still is, and the consumer moves on
        # rather than failing on it for ever.
        for msg, letter in too_large:
            key, value_size = msg.key, len(msg.value or b"")
            if key is not None and len(key) > MAX_KEY_BYTES:
                left = f"the {value_size}-byte value and the {len(key)}-byte key are"
                key = None
            else:
                left = f"the {value_size}-byte value is"
            shortened = DeadLetter(letter.error, (
                f"{letter.reason}; {left} not copied, too large for {dlq_topic(self.topic)}: "
                f"read it at {msg.topic}[{msg.partition}]@{msg.offset}"))
            self._produce(msg, shortened, None, key, failures, None)
            log.warning("dead_letter_without_value", topic=self.topic,
                        partition=msg.partition, offset=msg.offset, bytes=value_size)
        if too_large:
            remaining = self.producer.flush(30)
        if failures or remaining:
            raise KafkaException(f"dead letters not acknowledged: {failures or remaining}")

    def _produce(self, msg: InboundMessage, letter: DeadLetter, value: bytes | None,
                 key: bytes | None, failures: list[str],
                 too_large: list[tuple[InboundMessage, DeadLetter]] | None) -> None:
        def delivered(err: KafkaError | None, _sent: Message) -> None:
            if err is None:
                return
            if too_large is not None and err.code() == KafkaError.MSG_SIZE_TOO_LARGE:
                too_large.append((msg, letter))  # the broker refused it: sent shorter
            else:
                failures.append(str(err))

        try:
            self.producer.produce(dlq_topic(self.topic), value, key=key,
                                  headers=dlq_headers(msg, self.group, letter),
                                  on_delivery=delivered)
        except KafkaException as exc:
            if too_large is None or exc.args[0].code() != KafkaError.MSG_SIZE_TOO_LARGE:
                raise
            too_large.append((msg, letter))
