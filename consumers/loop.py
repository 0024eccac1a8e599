"""The poll loop every inbound consumer shares.

Per poll batch: decode every record (bad ones become dead letters); store the good ones
in ONE database transaction (the records, unique by event_id, and how far the batch
read); then send the dead letters and wait for the broker's acknowledgement; only then
store the offsets, which librdkafka commits in the background. A crash anywhere replays
the batch, and the records' event_ids (the inbox) turn what was already stored into a
no-op. Nothing is decided here: the sweeper decides what was stored once the watermark
has passed it.

The loop overlaps two batches: while a thread of its own runs one batch's transaction,
the loop polls and decodes the next. Everything else stays in order: the next
transaction begins only once the one before has committed, its dead letters are
acknowledged and its offsets stored. Only the first attempt runs in that thread; a
retry (the database away) runs in the loop, which alone touches the Kafka clients.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import structlog
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from bootstrap import kafka
from configuration import Settings
from consumers.batch import BatchReport, DecodedBatch, Limits, decode_into
from consumers.dead_letters import DeadLetter, DeadLetterPublisher
from consumers.inbound import InboundMessage, position_of
from consumers.offsets import commit_for_handover, store_offsets
from consumers.spec import TopicSpec
from consumers.storing import (
    BatchStore,
    Retrier,
    StopRequested,
    StoreOutcome,
    store_isolating,
)
from service.store import Stored
from service.unit_of_work import PartitionStep

log = structlog.get_logger("consumers")

#: how long the loop waits for more records, at most, before it looks again whether the
#: batch in flight has committed
GATHER_WAIT_SECONDS = 0.002


def next_batch(consumer: Consumer, size: int, timeout: float,
               gather: float = 0.0) -> list[Message]:
    """Up to `size` records: what has arrived, topped up for `gather` seconds after the
    first; when nothing has, wait up to `timeout` for the first.

    `consume(size, timeout)` alone waits for a full batch until the timeout, which under
    a light load holds every record for the timeout. A short gathering keeps latency
    low, and batches grow by themselves with the load: what arrives while one batch is
    stored makes up the next."""
    messages = consumer.consume(size, 0)
    if not messages:
        first = consumer.poll(timeout)
        if first is None:
            return []
        messages = [first]
    if len(messages) < size:  # consume() returns once it has them all or at the timeout
        messages += consumer.consume(size - len(messages), gather)
    return messages


@dataclass
class InFlight:
    """A batch whose first attempt at its transaction runs in the database thread."""

    batch: DecodedBatch
    first_try: Future[Stored]
    store_offsets: bool
    #: the loop is settling it (a rebalance meanwhile must leave it alone)
    settling: bool = False


@dataclass
class TopicConsumer:
    """Consumes one inbound topic in its consumer group until `stop` is set."""

    spec: TopicSpec
    settings: Settings
    group: str = ""
    stop: threading.Event = field(default_factory=threading.Event)
    on_batch: Callable[[BatchReport], None] | None = None
    #: called with a retry's number while the database is away (a metric counts them)
    on_retry: Callable[[int], None] = lambda _attempt: None
    #: called each time the loop goes round, with its Kafka consumer (liveness, lag)
    on_poll: Callable[[Consumer], None] = lambda _consumer: None
    #: called for each error the Kafka consumer reports
    on_broker_error: Callable[[], None] = lambda: None
    #: whether batches move the partitions' progress the watermark reads: the live
    #: group's do; a replay's or a redrive's, which read outside the group, do not
    moves_progress: bool = True

    def __post_init__(self) -> None:
        self.topic = self.spec.topic
        self.group = self.group or kafka.consumer_group(self.topic)
        self.log = log.bind(topic=self.topic, group=self.group)
        self.store = BatchStore(self.settings, self.group)
        self.limits = Limits(self.settings.max_record_bytes, self.settings.clock_skew)
        #: a batch is waiting for the database, its partitions paused (see `_retrier`)
        self.holding = False
        self._in_flight: InFlight | None = None
        #: the loop's clients, while it runs
        self._consumer: Consumer | None = None
        self._dead_letters: DeadLetterPublisher | None = None

    # ---- the loop ----------------------------------------------------------------------

    def run(self, consumer: Consumer | None = None,
            producer: kafka.Producer | None = None) -> None:
        """Until `stop` is set; with its own Kafka clients unless given some."""
        consumer = consumer or kafka.inbound_consumer(self.settings, self.topic, self.group)
        self.use(consumer, producer or kafka.producer(self.settings, "dead-letters"))

        def on_assign(c: Consumer, partitions: list[TopicPartition]) -> None:
            self.log.info("partitions_assigned", partitions=[p.partition for p in partitions])
            if self.holding and partitions:
                # Assigned during a database retry (another instance left): keep them
                # paused too, or the retry's poll(0) would hand over one of their
                # records that nobody stores while later offsets get stored.
                c.incremental_assign(partitions)
                c.pause(partitions)

        def on_revoke(c: Consumer, partitions: list[TopicPartition]) -> None:
            self.log.info("partitions_revoked", partitions=[p.partition for p in partitions])
            self._settle_for_handover()
            commit_for_handover(c, self.topic)  # before another member takes over

        def on_lost(_c: Consumer, partitions: list[TopicPartition]) -> None:
            # Out of the group (session timeout, max.poll.interval.ms exceeded): the
            # partitions may have a new owner already, so commit nothing; the offsets
            # stored for them are dropped and the new owner re-reads from the last commit.
            self.log.warning("partitions_lost", partitions=[p.partition for p in partitions])

        consumer.subscribe([self.topic], on_assign=on_assign, on_revoke=on_revoke,
                           on_lost=on_lost)
        self.log.info("consumer_started")
        database = self.database_thread()
        try:
            while not self.stop.is_set():
                self.on_poll(consumer)
                self.start_after(self._next_batch(consumer), database, store_offsets=True)
            self.settle()
        except StopRequested:
            # stopped while waiting for the database: the batch stays unstored and its
            # offsets unstored, so whoever reads these partitions next stores it
            self.log.warning("stopped_with_batch_unstored")
        finally:
            database.shutdown(wait=True)  # a transaction under way ends before its connection
            assert self._dead_letters is not None
            self._dead_letters.producer.flush(30)
            consumer.close()  # commits the stored offsets and leaves the group
            self.store.close()
            self.log.info("consumer_stopped")

    def use(self, consumer: Consumer, producer: kafka.Producer) -> None:
        """The Kafka clients the batches are read from and dead-lettered with (the live
        loop's own, or a replay's or a redrive's)."""
        self._consumer = consumer
        self._dead_letters = DeadLetterPublisher(producer, self.topic, self.group)

    def database_thread(self) -> ThreadPoolExecutor:
        """Where `start_after` runs transactions (shut it down before closing)."""
        return ThreadPoolExecutor(1, thread_name_prefix=f"{self.topic}-database")

    def decoded(self, messages: list[Message] | list[InboundMessage]) -> DecodedBatch:
        batch = DecodedBatch()
        self._decode_into(batch, messages)
        return batch

    def start_after(self, batch: DecodedBatch, database: ThreadPoolExecutor,
                    store_offsets: bool) -> list[BatchReport]:
        """Settle the batch in flight, then start `batch`'s transaction in `database`
        (a batch of dead letters only is stored (how far it read) at once). The reports
        of the batches finished."""
        settled = self.settle()
        done = [settled] if settled is not None else []
        if batch.good:
            self._in_flight = InFlight(batch, database.submit(
                self.store.attempt, batch.good, self._steps(batch), batch.report),
                store_offsets)
        elif batch.by_position:
            outcome = store_isolating(self._retrier(), [], self._steps(batch), batch.report)
            done.append(self._finish(batch, outcome, store_offsets))
        return done

    def process(self, messages: list[InboundMessage], store_offsets: bool = False,
                dead: list[tuple[InboundMessage, DeadLetter]] | None = None) -> BatchReport:
        """Decode, store in one transaction and dead-letter one batch (with `dead`, known
        to be dead already), then store its offsets if asked (replay and redrive, which
        track their own, do not)."""
        batch = self.decoded(messages)
        for msg, letter in dead or []:
            batch.by_position[msg.position] = msg
            batch.dead.append((msg, letter))
        outcome = store_isolating(self._retrier(), batch.good, self._steps(batch),
                                  batch.report)
        return self._finish(batch, outcome, store_offsets)

    def _steps(self, batch: DecodedBatch) -> list[PartitionStep]:
        return batch.steps() if self.moves_progress else []

    def _next_batch(self, consumer: Consumer) -> DecodedBatch:
        """The next batch, decoded. With a batch in flight: what has arrived, topped up
        until that batch's transaction ends and this one has gathered for
        `batch_gather` since its first record, or it is full, or the poll timeout has
        passed; otherwise as `next_batch`.

        The bound keeps max.poll.interval.ms meaningful: a transaction stuck in the
        database stops the polls, as it did when the loop waited for it, so the group
        moves the member's partitions to another."""
        size = self.settings.batch_size_for(self.topic)
        if self._in_flight is None:
            return self.decoded(next_batch(consumer, size, self.settings.poll_timeout,
                                           self.settings.batch_gather))
        batch = DecodedBatch()
        self._decode_into(batch, consumer.consume(size, 0))
        until = time.monotonic() + self.settings.poll_timeout
        gathered_at: float | None = None  # when this batch has gathered long enough
        # a rebalance during consume() may have settled the batch in flight
        while (len(batch.by_position) < size and self._in_flight is not None
               and not self.stop.is_set() and time.monotonic() < until):
            if batch.by_position and gathered_at is None:
                gathered_at = time.monotonic() + self.settings.batch_gather
            if self._in_flight.first_try.done() and (
                    gathered_at is None or time.monotonic() >= gathered_at):
                break
            self._decode_into(batch, consumer.consume(size - len(batch.by_position),
                                                      GATHER_WAIT_SECONDS))
        return batch

    def settle(self) -> BatchReport | None:
        """Finish the batch in flight, if any: wait for its transaction (retried here if
        the database was away), send its dead letters, store its offsets if asked."""
        flight = self._in_flight
        if flight is None:
            return None
        flight.settling = True
        batch = flight.batch
        outcome = store_isolating(self._retrier(), batch.good, self._steps(batch),
                                  batch.report, first=flight.first_try.result)
        report = self._finish(batch, outcome, flight.store_offsets)
        self._in_flight = None
        return report

    def _settle_for_handover(self) -> None:
        """Partitions are being revoked: store what the batch in flight stored before
        the commit that hands them over. Its transaction is only waited for here; if it
        failed, the loop retries it afterwards (its records may then be stored by the
        new owner as well, and the inbox keeps the second from changing anything)."""
        flight = self._in_flight
        if flight is None or flight.settling or flight.first_try.exception() is not None:
            return
        self.settle()

    def close(self) -> None:
        """Close the database connection (the Kafka clients belong to the caller)."""
        self.store.close()

    def _decode_into(self, batch: DecodedBatch,
                     messages: list[Message] | list[InboundMessage]) -> None:
        inbound = []
        for msg in messages:
            if isinstance(msg, InboundMessage):
                inbound.append(msg)
                continue
            error = msg.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    self.log.warning("consume_error", error=str(error))
                    self.on_broker_error()
                continue
            inbound.append(InboundMessage.of(msg))
        decode_into(batch, self.spec, inbound, self.limits)

    def _finish(self, batch: DecodedBatch, outcome: StoreOutcome,
                store_offsets_too: bool) -> BatchReport:
        """After the transaction: dead-letter what failed, store the offsets if asked,
        report."""
        report, dead = batch.report, list(batch.dead)
        for item, letter in outcome.dead:
            dead.append((batch.by_position[(item.cause.partition, item.cause.offset)],
                         letter))
        started = time.perf_counter()
        assert self._dead_letters is not None
        self._dead_letters.send(dead)
        dead_lettered = time.perf_counter()
        if store_offsets_too and self._consumer is not None:
            store_offsets(self._consumer, self.topic, batch.by_position.values())
        finished = time.perf_counter()

        report.records = len(batch.by_position)
        report.stored, report.duplicates = outcome.stored.stored, outcome.stored.duplicates
        report.dead_letters = len(dead)
        for _, letter in dead:
            name = letter.error.rsplit(".", 1)[-1]
            report.dead_by_error[name] = report.dead_by_error.get(name, 0) + 1
        report.dlq, report.offsets = dead_lettered - started, finished - dead_lettered
        report.seconds = (report.decode + report.sql + report.commit + report.dlq
                          + report.offsets)
        self.log.info("batch_done", **{k: round(v, 6) if isinstance(v, float) else v
                                       for k, v in report.__dict__.items()
                                       if k != "dead_by_error"})
        if self.on_batch is not None:
            self.on_batch(report)
        return report

    # ---- waiting for the database --------------------------------------------------------

    def _retrier(self) -> Retrier:
        return Retrier(self.store, self.stop, waiting=self._pause, resumed=self._resume,
                       on_retry=self.on_retry)

    def _pause(self) -> None:
        """The database is away: pause every assigned partition and keep the membership
        (paused, poll(0) serves group events such as rebalances and returns no record)."""
        consumer = self._consumer
        if consumer is None:
            return
        self.holding = True
        consumer.pause(consumer.assignment())
        msg = consumer.poll(0)
        if msg is not None and not msg.error():  # never expected; never drop one
            self._put_back(consumer, msg)

    def _resume(self) -> None:
        consumer = self._consumer
        if consumer is not None and self.holding:
            self.holding = False
            consumer.resume(consumer.assignment())

    def _put_back(self, consumer: Consumer, msg: Message) -> None:
        """Rewind a partition to a record polled while the batch waits, paused."""
        partition = TopicPartition(*position_of(msg))
        try:
            consumer.pause([partition])
            consumer.seek(partition)
            self.log.info("record_put_back", partition=msg.partition(), offset=msg.offset())
        except KafkaException as exc:  # revoked meanwhile: its new owner starts there
            self.log.warning("put_back_failed", partition=msg.partition(), error=str(exc))
