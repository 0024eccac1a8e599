"""Re-process an inbound topic from an offset or a point in time.

A replay runs the live consumer's own batch path (decode, one transaction, dead letters)
over a fixed range: from the start position to the end offsets seen when it begins. It
reads in a consumer group of its own that commits nothing, so the live groups' positions
stay where they are, and it does not move the partitions' progress the watermark reads
(the live consumers' alone). The inbox turns every record already stored into a no-op:
a replay stores only what is missing (after an outage or a fix), and on an empty
database it is a rebuild. The sweeper decides what it stored like any other record (a
record it brings that is older than what its order has decided is a late record).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from confluent_kafka import Consumer, Message, TopicPartition

from bootstrap import kafka
from configuration import Settings
from consumers import CONSUMERS
from consumers.batch import BatchReport
from consumers.inbound import position_of
from consumers.loop import TopicConsumer
from consumers.topics import topic_watermarks

#: called after each batch with how many offsets it covered and the range's size
Progress = Callable[[int, int], None]


class ReplayError(Exception):
    """The replay cannot start: an unknown topic or an empty range is not an error, this is."""


@dataclass
class ReplayReport(BatchReport):
    """The batches' figures summed, over a range of `span` offsets (records plus any
    gaps, e.g. transaction markers)."""

    span: int = 0

    def add(self, batch: BatchReport) -> None:
        for f in dataclasses.fields(BatchReport):
            if f.name == "dead_by_error":
                for error, count in batch.dead_by_error.items():
                    self.dead_by_error[error] = self.dead_by_error.get(error, 0) + count
                continue
            setattr(self, f.name, getattr(self, f.name) + getattr(batch, f.name))


@contextmanager
def batch_path(settings: Settings, topic: str, group: str,
               consumer: Consumer) -> Iterator[TopicConsumer]:
    """The live consumer's batch path for `consumer`'s messages; closes everything after."""
    runner = TopicConsumer(CONSUMERS[topic], settings, group=group, moves_progress=False)
    producer = kafka.producer(settings, "dead-letters")
    runner.use(consumer, producer)
    try:
        yield runner
    finally:
        producer.flush(30)
        consumer.close()
        runner.close()


@dataclass(frozen=True)
class Range:
    partition: int
    start: int
    end: int  # exclusive: the high watermark when the replay began


def plan(consumer: Consumer, topic: str, *, from_offset: int | None = None,
         from_time: dt.datetime | None = None) -> list[Range]:
    """Per partition, the offsets to re-read (empty ranges left out)."""
    if (from_offset is None) == (from_time is None):
        raise ReplayError("give exactly one of a start offset and a start time")
    metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
    if metadata is None or metadata.error is not None or not metadata.partitions:
        raise ReplayError(f"topic {topic} does not exist on the broker")
    marks = topic_watermarks(consumer, topic)
    partitions = sorted(marks)
    if from_time is not None:
        millis = int(from_time.timestamp() * 1000)
        found = consumer.offsets_for_times(
            [TopicPartition(topic, p, millis) for p in partitions], timeout=10)
        # -1: nothing at or after that time in the partition
        starts = {tp.partition: tp.offset if tp.offset >= 0 else marks[tp.partition][1]
                  for tp in found}
    else:
        starts = {p: max(from_offset or 0, marks[p][0]) for p in partitions}
    return [Range(p, starts[p], marks[p][1]) for p in partitions if starts[p] < marks[p][1]]


def replay(settings: Settings, topic: str, *, from_offset: int | None = None,
           from_time: dt.datetime | None = None,
           progress: Progress | None = None) -> ReplayReport:
    group = f"order-cases.replay.{topic}.{uuid.uuid4().hex[:8]}"
    consumer = kafka.private_consumer(settings, group)  # the replay moves no group's position
    started = time.perf_counter()
    report = ReplayReport()
    with batch_path(settings, topic, group, consumer) as runner, \
            runner.database_thread() as database:
        ranges = plan(consumer, topic, from_offset=from_offset, from_time=from_time)
        report.span = sum(r.end - r.start for r in ranges)
        pending = {r.partition: r for r in ranges}
        consumer.assign([TopicPartition(topic, r.partition, r.start) for r in ranges])
        while pending:
            messages = consumer.consume(settings.batch_size_for(topic), settings.poll_timeout)
            # decoded while the batch before is applied, as in the live loop
            batch = runner.decoded([m for m in messages if _in_range(m, pending)])
            for done in runner.start_after(batch, database, store_offsets=False):
                report.add(done)
            covered = _advance(consumer, topic, pending)
            if progress is not None and covered:
                progress(covered, report.span)
        if (last := runner.settle()) is not None:
            report.add(last)
    report.seconds = time.perf_counter() - started
    return report


def _in_range(msg: Message, pending: dict[int, Range]) -> bool:
    if msg.error():
        return False
    _, partition, offset = position_of(msg)
    span = pending.get(partition)
    return span is not None and offset < span.end


def _advance(consumer: Consumer, topic: str, pending: dict[int, Range]) -> int:
    """Drop the partitions read to their end; return how many offsets were covered since
    the last call (so a progress bar moves by offsets, which also counts gaps)."""
    covered = 0
    positions = consumer.position([TopicPartition(topic, p) for p in pending])
    for tp in positions:
        span = pending[tp.partition]
        if tp.offset < 0:  # nothing fetched yet
            continue
        now_at = min(tp.offset, span.end)
        covered += now_at - span.start
        if now_at >= span.end:
            del pending[tp.partition]
        else:
            pending[tp.partition] = Range(span.partition, now_at, span.end)
    return covered
