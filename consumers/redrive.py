"""Dead letters of an inbound topic: list them, and send them back through the consumer.

A redrive reads `<topic>.dlq` in a consumer group of its own (`order-cases.redrive.
<topic>`), so each dead letter is retried once per redrive and a second redrive starts
where the first stopped. Each dead letter goes through the live consumer's batch path as
the record it was (its original topic, partition and offset, from its headers), so the
case history names the original position. What still fails is dead-lettered again, at
the end of the DLQ, with its original headers; its redrive offset is committed only after
that, so nothing is lost. The inbox makes a dead letter that was meanwhile applied (e.g.
by a replay) a no-op.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_INVALID,
    Consumer,
    TopicPartition,
)

from bootstrap import kafka
from configuration import Settings
from consumers import dead_letters as dlq
from consumers.inbound import InboundMessage
from consumers.replay import Progress, ReplayError, ReplayReport, batch_path
from consumers.topics import topic_watermarks
from schemas import dlq_topic

_TIMESTAMP_TYPES = {name: kind for kind, name in dlq.TIMESTAMP_TYPES.items()}


def redrive_group(topic: str) -> str:
    return f"order-cases.redrive.{topic}"


def original(letter: InboundMessage, topic: str) -> InboundMessage:
    """A dead letter seen as the record it was: where it was read, when, its key, value
    and own headers (a letter without our headers, written by hand, stands for itself)."""
    headers = dlq.read_headers(letter.headers)

    def number(name: str, fallback: int) -> int:
        value = headers.get(name)
        return value if isinstance(value, int) else fallback

    kind = _TIMESTAMP_TYPES.get(str(headers.get(dlq.ORIGINAL_TIMESTAMP_TYPE)), 1)
    return InboundMessage(
        topic=topic,
        partition=number(dlq.ORIGINAL_PARTITION, letter.partition),
        offset=number(dlq.ORIGINAL_OFFSET, letter.offset),
        key=letter.key, value=letter.value,
        headers=tuple((n, v) for n, v in letter.headers if not n.startswith(dlq.PREFIX)),
        timestamp_type=kind,
        timestamp=number(dlq.ORIGINAL_TIMESTAMP, letter.timestamp))


@dataclass(frozen=True)
class DeadLetterEntry:
    """One dead letter as `cases dlq list` shows it (never its value: personal data)."""

    dlq_partition: int
    dlq_offset: int
    original: str  # topic/partition/offset
    original_time: str | None
    error: str
    reason: str
    group: str
    redriven: bool

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _not_copied(letter: InboundMessage) -> dlq.DeadLetter | None:
    """A dead letter stored without the original's value (too large for the DLQ) cannot
    be retried from it: it goes back with its first error and reason, not as a
    tombstone (its reason says where the original still is)."""
    if letter.value is not None:
        return None
    headers = dlq.read_headers(letter.headers)
    reason = headers.get(dlq.EXCEPTION_MESSAGE)
    if not isinstance(reason, str) or "not copied" not in reason:
        return None
    return dlq.DeadLetter(str(headers.get(dlq.EXCEPTION_FQCN, "")), reason)


def redrive_consumer(settings: Settings, topic: str) -> Consumer:
    # committed by hand, after each batch is safe
    return kafka.private_consumer(settings, redrive_group(topic))


def _ranges(consumer: Consumer, topic: str) -> dict[int, tuple[int, int]]:
    """Per DLQ partition: where the redrive group stands (or the beginning) and the end."""
    name = dlq_topic(topic)
    metadata = consumer.list_topics(name, timeout=10).topics.get(name)
    if metadata is None or metadata.error is not None or not metadata.partitions:
        raise ReplayError(f"topic {name} does not exist on the broker")
    marks = topic_watermarks(consumer, name)
    committed = consumer.committed([TopicPartition(name, p) for p in sorted(marks)],
                                   timeout=10)
    ranges = {}
    for tp in committed:
        low, high = marks[tp.partition]
        start = tp.offset if tp.offset not in (OFFSET_INVALID, OFFSET_BEGINNING) else low
        ranges[tp.partition] = (max(start, low), high)
    return ranges


def _read(consumer: Consumer, name: str, ranges: dict[int, tuple[int, int]],
          batch_size: int, poll_timeout: float) -> Iterator[list[InboundMessage]]:
    """Batches of the messages in `ranges`, until every partition reached its end."""
    pending = {p: end for p, (start, end) in ranges.items() if start < end}
    consumer.assign([TopicPartition(name, p, ranges[p][0]) for p in pending])
    while pending:
        read = [InboundMessage.of(m) for m in consumer.consume(batch_size, poll_timeout)
                if not m.error()]
        batch = [m for m in read if m.offset < pending.get(m.partition, -1)]
        if batch:
            yield batch
        for tp in consumer.position([TopicPartition(name, p) for p in pending]):
            if tp.offset >= pending[tp.partition]:
                del pending[tp.partition]


def list_dead_letters(settings: Settings, topic: str) -> list[DeadLetterEntry]:
    consumer = redrive_consumer(settings, topic)
    name = dlq_topic(topic)
    try:
        ranges = _ranges(consumer, topic)
        redriven_to = {p: start for p, (start, _) in ranges.items()}
        marks = topic_watermarks(consumer, name)
        everything = {p: (marks[p][0], end) for p, (_, end) in ranges.items()}
        entries = []
        for batch in _read(consumer, name, everything, 500, 1.0):
            for msg in batch:
                headers = dlq.read_headers(msg.headers)
                stamp = headers.get(dlq.ORIGINAL_TIMESTAMP)
                entries.append(DeadLetterEntry(
                    dlq_partition=msg.partition,
                    dlq_offset=msg.offset,
                    original=f"{headers.get(dlq.ORIGINAL_TOPIC, topic)}/"
                             f"{headers.get(dlq.ORIGINAL_PARTITION, '?')}/"
                             f"{headers.get(dlq.ORIGINAL_OFFSET, '?')}",
                    original_time=dt.datetime.fromtimestamp(stamp / 1000, dt.UTC).isoformat()
                    if isinstance(stamp, int) and stamp >= 0 else None,
                    error=str(headers.get(dlq.EXCEPTION_FQCN, "")),
                    reason=str(headers.get(dlq.EXCEPTION_MESSAGE, "")),
                    group=str(headers.get(dlq.ORIGINAL_CONSUMER_GROUP, "")),
                    redriven=msg.offset < redriven_to[msg.partition],
                ))
    finally:
        consumer.close()
    return sorted(entries, key=lambda e: (e.dlq_partition, e.dlq_offset))


def redrive(settings: Settings, topic: str, progress: Progress | None = None) -> ReplayReport:
    """Retry every dead letter the redrive group has not retried yet."""
    consumer = redrive_consumer(settings, topic)
    name = dlq_topic(topic)
    started = time.perf_counter()
    report = ReplayReport()
    with batch_path(settings, topic, redrive_group(topic), consumer) as runner:
        ranges = _ranges(consumer, topic)
        report.span = sum(end - start for start, end in ranges.values())
        for batch in _read(consumer, name, ranges, settings.batch_size_for(topic),
                           settings.poll_timeout):
            readable, carried = [], []
            for letter in batch:
                record = original(letter, topic)
                kept = _not_copied(letter)
                if kept is None:
                    readable.append(record)
                else:
                    carried.append((record, kept))
            report.add(runner.process(readable, dead=carried))
            last: dict[int, int] = {}
            for msg in batch:
                last[msg.partition] = max(last.get(msg.partition, -1), msg.offset)
            # after the transaction and the re-dead-lettering: a crash before this line
            # retries the batch, and the inbox makes that harmless
            consumer.commit(offsets=[TopicPartition(name, p, o + 1) for p, o in last.items()],
                            asynchronous=False)
            if progress is not None:
                progress(len(batch), report.span)
    report.seconds = time.perf_counter() - started
    return report
