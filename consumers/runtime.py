"""The loop every inbound consumer shares.

Per poll batch: decode every record (bad ones become dead letters); apply the good ones
in ONE database transaction (state, inbox, outbox); then send the dead letters and wait
for the broker's acknowledgement; only then store the offsets, which librdkafka commits
in the background. A crash anywhere replays the batch, and the inbox turns what was
already applied into a no-op.

The live loop overlaps two batches: while a thread of its own runs one batch's
transaction, the loop polls and decodes the next. Everything else stays in order: the
next transaction begins only once the one before has committed, its dead letters are
acknowledged and its offsets stored. Only the first attempt runs in that thread; a
retry (the database away) runs in the loop, which alone touches the Kafka clients.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import psycopg
import structlog
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from tenacity import RetryCallState, Retrying, retry_if_exception, wait_exponential

from configuration import DEFAULT_MAX_RECORD_BYTES, Settings
from consumers.dlq import DeadLetter, dlq_headers
from domain.records import from_record
from schemas import TOPICS, dlq_topic, record_key
from schemas.codec import DecodeError, shared_codec
from schemas.json_form import ContractError, check_contract
from service.apply import BatchOutcome, apply_batch
from service.unit_of_work import Cause, Inbound
from storage.unit_of_work import unit_of_work

log = structlog.get_logger("consumers")


#: what one record's values can make the database or the rules raise (text it cannot
#: store, a key too long to index, a number out of range): such a record is dead-lettered
#: alone rather than failing its batch again on every retry
RECORD_ERRORS: tuple[type[Exception], ...] = (
    psycopg.DataError, psycopg.errors.ProgramLimitExceeded, ValueError, OverflowError)


def _database_away(exc: BaseException) -> bool:
    """Worth retrying the same batch: the database, not a record, is the problem."""
    return (isinstance(exc, psycopg.OperationalError)
            and not isinstance(exc, psycopg.errors.ProgramLimitExceeded))


#: ids are at most 128 characters, so no key of the contract (order id, or carrier and
#: tracking number) takes more than 1028 bytes of UTF-8
MAX_KEY_BYTES = 2048


def consumer_group(topic: str) -> str:
    return f"order-cases.{topic}"


def consumer_settings(settings: Settings, topic: str, group: str, auto_commit: bool = True
                      ) -> dict[str, Any]:
    """librdkafka settings of an inbound consumer: tuning a deployment may change through
    CASES_KAFKA_* (the outage tests shorten max.poll.interval.ms and session.timeout.ms),
    and what the guarantees rest on, which it may not."""
    tuning = {
        # committed offsets trail the stored ones by up to this: what a restart re-reads
        # (the inbox skips it) and how late the group's lag shows a drained topic
        "auto.commit.interval.ms": 250,
        "max.poll.interval.ms": 300_000,
        # Prefetch a few batches, not the backlog: librdkafka's defaults queue up to
        # 100,000 records per partition or 64 MiB, so memory grew with the backlog.
        "queued.min.messages": max(1000, 2 * settings.batch_size_for(topic)),
        "queued.max.messages.kbytes": 4096,
        "fetch.max.bytes": 1 << 20,
        "max.partition.fetch.bytes": 256 << 10,
        # with a queue this short, the default 1 s pause after filling it would leave the
        # consumer idle once it has taken the queue
        "fetch.queue.backoff.ms": 10,
        # A member that dies without leaving (SIGKILL, OOM, a lost node) keeps its
        # partitions until its session times out, and the rebalance waits for that too:
        # with librdkafka's 45 s default, `make chaos` saw every kill stall its group for
        # 45 s or more. Heartbeats come from librdkafka's own thread, so a long batch
        # cannot time the session out (max.poll.interval.ms guards the loop).
        "session.timeout.ms": 10_000,
    }
    return settings.kafka(tuning, **{
        "group.id": group,
        "enable.auto.commit": auto_commit,
        "enable.auto.offset.store": False,  # stored only after the database commit
        "auto.offset.reset": "earliest",
        "partition.assignment.strategy": "cooperative-sticky",
    })


def next_batch(consumer: Consumer, size: int, timeout: float) -> list[Message]:
    """What has arrived, up to `size` records; when nothing has, wait up to `timeout`
    for the first.

    `consume(size, timeout)` alone waits for a full batch until the timeout, which under
    a light load holds every record for the timeout. Taking what is there keeps latency
    low, and batches grow by themselves with the load: what arrives while one batch is
    applied makes up the next."""
    messages = consumer.consume(size, 0)
    if messages:
        return messages
    first = consumer.poll(timeout)
    if first is None:
        return []
    return [first, *consumer.consume(size - 1, 0)] if size > 1 else [first]


class RecordTooLarge(ValueError):
    """A key or value over the size this service reads (MAX_KEY_BYTES,
    CASES_MAX_RECORD_BYTES)."""


class MissingKey(ValueError):
    """A message without a key, or with an empty one: the contract keys every topic."""


def _qualified(kind: type[BaseException]) -> str:
    """The exception's class as the `kafka_dlt-exception-fqcn` header names it."""
    return f"{kind.__module__}.{kind.__qualname__}"


def _check_key(topic: str, key: bytes | None, record: dict) -> None:
    expected = record_key(topic, record)
    if key is None:
        raise MissingKey(f"the message has no key (expected {expected!r})")
    if not key:
        raise MissingKey(f"the message key is empty (expected {expected!r})")
    if key.decode(errors="replace") != expected:
        raise ContractError("key", f"the message key does not match the record "
                                   f"(expected {expected!r})")


def decode(topic: str, msg: Message, max_bytes: int = DEFAULT_MAX_RECORD_BYTES,
           ) -> Inbound | DeadLetter:
    """The record in a message, or why it is a dead letter. Never raises: whatever is
    wrong with one record must not stop the consumer (DESIGN.md, Guarantees)."""
    key, value = msg.key(), msg.value()
    if key is not None and len(key) > MAX_KEY_BYTES:  # no key of the contract is this long
        return DeadLetter(_qualified(RecordTooLarge),
                          f"key of {len(key)} bytes is over the {MAX_KEY_BYTES}-byte limit")
    if value is not None and len(value) > max_bytes:  # checked before any decoding
        return DeadLetter(_qualified(RecordTooLarge),
                          f"value of {len(value)} bytes is over the {max_bytes}-byte limit "
                          "(CASES_MAX_RECORD_BYTES)")
    try:
        record = shared_codec().decode(value)
        if record["type"] not in TOPICS[topic]:
            raise ContractError("type", f"{record['type']} does not belong on topic {topic}")
        check_contract(record)
        _check_key(topic, key, record)
        cause = Cause(topic, msg.partition(), msg.offset(), record["event_id"])
        return Inbound(cause, from_record(record))
    except (DecodeError, ContractError, MissingKey) as exc:
        return DeadLetter(_qualified(type(exc)), str(exc))
    except Exception as exc:  # a case no check foresaw: still the record's, not ours
        log.error("undecodable_record", topic=topic, partition=msg.partition(),
                  offset=msg.offset(), error=_qualified(type(exc)))
        return DeadLetter(_qualified(type(exc)), str(exc) or type(exc).__name__)


class StopRequested(Exception):
    """`stop` was set while a batch waited for the database."""


@dataclass
class BatchReport:
    """What one batch did, and where its time went (seconds per stage; `rules` is the
    transaction's time outside statements and state (de)serialisation; `seconds` is
    their sum, the time the batch kept the consumer busy)."""

    records: int = 0
    applied: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    case_events: int = 0
    seconds: float = 0.0
    decode: float = 0.0
    sql: float = 0.0
    state: float = 0.0
    rules: float = 0.0
    commit: float = 0.0
    dlq: float = 0.0
    offsets: float = 0.0


#: how long the loop waits for more records, at most, before it looks again whether the
#: batch in flight has committed
GATHER_WAIT_SECONDS = 0.002


@dataclass
class DecodedBatch:
    """A poll batch decoded: the records to apply and those already dead letters."""

    report: BatchReport = field(default_factory=BatchReport)
    good: list[Inbound] = field(default_factory=list)
    dead: list[tuple[Message, DeadLetter]] = field(default_factory=list)
    by_position: dict[tuple[int, int], Message] = field(default_factory=dict)


@dataclass
class InFlight:
    """A batch whose first attempt at its transaction runs in the database thread."""

    batch: DecodedBatch
    first_try: Future[BatchOutcome]
    store_offsets: bool
    #: the loop is settling it (a rebalance meanwhile must leave it alone)
    settling: bool = False


@dataclass
class TopicConsumer:
    """Consumes one inbound topic in its consumer group until `stop` is set."""

    topic: str
    settings: Settings
    group: str = ""
    stop: threading.Event = field(default_factory=threading.Event)
    on_batch: Callable[[BatchReport], None] | None = None

    def __post_init__(self) -> None:
        self.group = self.group or consumer_group(self.topic)
        self.log = log.bind(topic=self.topic, group=self.group)
        self._conn: psycopg.Connection | None = None
        #: a batch is waiting for the database, its partitions paused (see _apply)
        self._holding = False
        #: the live loop's batch whose transaction runs in the database thread
        self._in_flight: InFlight | None = None

    # ---- clients -----------------------------------------------------------------------

    def consumer_config(self) -> dict[str, Any]:
        return consumer_settings(self.settings, self.topic, self.group)

    def _consumer(self) -> Consumer:
        return Consumer(self.consumer_config())

    def producer(self) -> Producer:
        """For dead letters (replay and redrive use it too)."""
        return Producer(self.settings.kafka(**{"enable.idempotence": True, "linger.ms": 5}))

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            # named after the group, so pg_stat_activity shows whose session waits on what
            self._conn = psycopg.connect(self.settings.database_url, autocommit=True,
                                         application_name=self.group[:63])
        return self._conn

    # ---- the loop ----------------------------------------------------------------------

    def run(self) -> None:
        consumer, producer = self._consumer(), self.producer()

        def on_assign(c: Consumer, partitions: list[TopicPartition]) -> None:
            self.log.info("partitions_assigned", partitions=[p.partition for p in partitions])
            if self._holding and partitions:
                # Assigned during a database retry (another instance left): keep them
                # paused too, or the retry's poll(0) would hand over one of their
                # records that nobody applies while later offsets get stored.
                c.incremental_assign(partitions)
                c.pause(partitions)

        def on_revoke(c: Consumer, partitions: list[TopicPartition]) -> None:
            self.log.info("partitions_revoked", partitions=[p.partition for p in partitions])
            self._settle_for_handover(c, producer)
            try:  # hand over what this instance has applied before another takes over
                c.commit(asynchronous=False)
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError._NO_OFFSET:
                    self.log.warning("commit_on_revoke_failed", error=str(exc))

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
                self.apply_after(consumer, producer, self._next_batch(consumer), database,
                                 store_offsets=True)
            self.settle(consumer, producer)
        except StopRequested:
            # stopped while waiting for the database: the batch stays unapplied and its
            # offsets unstored, so whoever reads these partitions next applies it
            self.log.warning("stopped_with_batch_unapplied")
        finally:
            database.shutdown(wait=True)  # a transaction under way ends before its connection
            producer.flush(30)
            consumer.close()  # commits the stored offsets and leaves the group
            self.close()
            self.log.info("consumer_stopped")

    def database_thread(self) -> ThreadPoolExecutor:
        """Where `apply_after` runs transactions (shut it down before `close`)."""
        return ThreadPoolExecutor(1, thread_name_prefix=f"{self.topic}-database")

    def decoded(self, messages: list[Message]) -> DecodedBatch:
        batch = DecodedBatch()
        self._decode_into(batch, messages)
        return batch

    def apply_after(self, consumer: Consumer, producer: Producer, batch: DecodedBatch,
                    database: ThreadPoolExecutor, store_offsets: bool) -> list[BatchReport]:
        """Settle the batch in flight, then start `batch`'s transaction in `database`
        (a batch of dead letters only is finished at once). The reports of the batches
        finished."""
        settled = self.settle(consumer, producer)
        done = [settled] if settled is not None else []
        if batch.good:
            self._in_flight = InFlight(batch, database.submit(
                self._transaction, batch.good, batch.report), store_offsets)
        elif batch.by_position:
            done.append(self._finish(consumer, producer, batch, BatchOutcome(), [],
                                     store_offsets))
        return done

    def _next_batch(self, consumer: Consumer) -> DecodedBatch:
        """The next batch, decoded. With a batch in flight: what has arrived, topped up
        until that batch's transaction ends, this one is full or the poll timeout has
        passed; otherwise as `next_batch`.

        The bound keeps max.poll.interval.ms meaningful: a transaction stuck in the
        database stops the polls, as it did when the loop waited for it, so the group
        moves the member's partitions to another."""
        size = self.settings.batch_size_for(self.topic)
        if self._in_flight is None:
            return self.decoded(next_batch(consumer, size, self.settings.poll_timeout))
        batch = DecodedBatch()
        self._decode_into(batch, consumer.consume(size, 0))
        until = time.monotonic() + self.settings.poll_timeout
        # a rebalance during consume() may have settled the batch in flight
        while (len(batch.by_position) < size and self._in_flight is not None
               and not self._in_flight.first_try.done() and not self.stop.is_set()
               and time.monotonic() < until):
            self._decode_into(batch, consumer.consume(size - len(batch.by_position),
                                                      GATHER_WAIT_SECONDS))
        return batch

    def settle(self, consumer: Consumer, producer: Producer) -> BatchReport | None:
        """Finish the batch in flight, if any: wait for its transaction (retried here if
        the database was away), send its dead letters, store its offsets if asked."""
        flight = self._in_flight
        if flight is None:
            return None
        flight.settling = True
        outcome, failed = self._apply_isolating(consumer, flight.batch.good,
                                                flight.batch.report, flight.first_try)
        report = self._finish(consumer, producer, flight.batch, outcome, failed,
                              flight.store_offsets)
        self._in_flight = None
        return report

    def _settle_for_handover(self, consumer: Consumer, producer: Producer) -> None:
        """Partitions are being revoked: store what the batch in flight applied before
        the commit that hands them over. Its transaction is only waited for here; if it
        failed, the loop retries it afterwards (its records may then be applied by the
        new owner as well, and the inbox keeps the second from changing anything)."""
        flight = self._in_flight
        if flight is None or flight.settling or flight.first_try.exception() is not None:
            return
        self.settle(consumer, producer)

    def close(self) -> None:
        """Close the database connection (the Kafka clients belong to the caller)."""
        if self._conn is not None:
            self._conn.close()

    def process(self, consumer: Consumer, producer: Producer, messages: list[Message],
                store_offsets: bool = False) -> BatchReport:
        """Decode, apply in one transaction and dead-letter one batch, then store its
        offsets if asked (replay and redrive, which track their own, do not)."""
        batch = self.decoded(messages)
        outcome, failed = self._apply_isolating(consumer, batch.good, batch.report)
        return self._finish(consumer, producer, batch, outcome, failed, store_offsets)

    def _decode_into(self, batch: DecodedBatch, messages: list[Message]) -> None:
        started = time.perf_counter()
        for msg in messages:
            if msg.error():
                if msg.error().code() != KafkaError._PARTITION_EOF:
                    self.log.warning("consume_error", error=str(msg.error()))
                continue
            batch.by_position[(msg.partition(), msg.offset())] = msg
            decoded = decode(self.topic, msg, self.settings.max_record_bytes)
            if isinstance(decoded, DeadLetter):
                batch.dead.append((msg, decoded))
            else:
                batch.good.append(decoded)
        batch.report.decode += time.perf_counter() - started

    def _finish(self, consumer: Consumer, producer: Producer, batch: DecodedBatch,
                outcome: BatchOutcome, failed: list[tuple[Inbound, Exception]],
                store_offsets: bool) -> BatchReport:
        """After the transaction: dead-letter what failed, store the offsets if asked,
        report."""
        report, dead, by_position = batch.report, batch.dead, batch.by_position
        for item, reason in outcome.invalid:
            msg = by_position[(item.cause.partition, item.cause.offset)]
            dead.append((msg, DeadLetter("domain.order.InvalidRecord", reason)))
        for item, exc in failed:
            msg = by_position[(item.cause.partition, item.cause.offset)]
            dead.append((msg, DeadLetter(_qualified(type(exc)),
                                         (str(exc).splitlines() or [type(exc).__name__])[0])))
        stored_from = time.perf_counter()
        self._dead_letter(producer, dead)
        dead_lettered = time.perf_counter()
        if store_offsets:
            self._store_offsets(consumer, list(by_position.values()))
        finished = time.perf_counter()

        report.records, report.applied, report.duplicates = (
            len(by_position), outcome.applied, outcome.duplicates)
        report.dead_letters, report.case_events = len(dead), len(outcome.events)
        report.dlq, report.offsets = dead_lettered - stored_from, finished - dead_lettered
        report.seconds = (report.decode + report.sql + report.state + report.rules
                          + report.commit + report.dlq + report.offsets)
        self.log.info("batch_done", **{k: round(v, 6) if isinstance(v, float) else v
                                       for k, v in report.__dict__.items()})
        if self.on_batch is not None:
            self.on_batch(report)
        return report

    def _apply_isolating(self, consumer: Consumer, good: list[Inbound],
                         report: BatchReport | None = None,
                         first_try: Future[BatchOutcome] | None = None,
                         ) -> tuple[BatchOutcome, list[tuple[Inbound, Exception]]]:
        """The batch in one transaction (`first_try`'s, when it is under way already);
        if a record's values make it fail, each record in its own transaction, in order,
        so only the culprits fail (as dead letters)."""
        report = report or BatchReport()
        try:
            return self._apply(consumer, good, report, first_try), []
        except RECORD_ERRORS as exc:
            self.log.error("batch_failed_retrying_one_by_one", records=len(good),
                           error=_qualified(type(exc)))
        outcome, failed = BatchOutcome(), []
        for item in good:
            try:
                one = self._apply(consumer, [item], report)
            except RECORD_ERRORS as exc:
                self.log.error("record_failed", partition=item.cause.partition,
                               offset=item.cause.offset, error=_qualified(type(exc)))
                failed.append((item, exc))
                continue
            outcome.applied += one.applied
            outcome.duplicates += one.duplicates
            outcome.events += one.events
            outcome.invalid += one.invalid
        return outcome, failed

    def _apply(self, consumer: Consumer, good: list[Inbound], report: BatchReport,
               first_try: Future[BatchOutcome] | None = None) -> BatchOutcome:
        """One transaction for the batch, retried with backoff while PostgreSQL is away
        (every assigned partition is paused meanwhile and poll(0) keeps this member in
        the group) until it commits or `stop` is set (then StopRequested). The first
        attempt is `first_try` when the database thread has made it. Its stage timings
        go to `report`."""
        if not good:
            return BatchOutcome()

        def before_sleep(state: RetryCallState) -> None:
            self._holding = True
            consumer.pause(consumer.assignment())
            # paused, poll(0) serves group events (rebalances) and returns no record
            msg = consumer.poll(0)
            if msg is not None and not msg.error():  # never expected; never drop one
                self._put_back(consumer, msg)
            error = state.outcome.exception() if state.outcome else None
            self.log.warning("database_unavailable_retrying", attempt=state.attempt_number,
                             wait_seconds=round(state.upcoming_sleep, 3),
                             error=type(error).__name__)
            if self._conn is not None:
                self._conn.close()

        retrying = Retrying(
            retry=retry_if_exception(_database_away),
            wait=wait_exponential(multiplier=0.2, max=10),
            # SIGTERM during an outage: give the batch up rather than outlive the stop
            stop=lambda _state: self.stop.is_set(),
            sleep=self.stop.wait,  # wakes at once on stop
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    if first_try is not None:
                        made, first_try = first_try, None
                        return made.result()
                    return self._transaction(good, report)
        except psycopg.OperationalError:
            if self.stop.is_set():
                raise StopRequested from None
            raise
        finally:
            if self._holding:
                self._holding = False
                consumer.resume(consumer.assignment())
        raise AssertionError("unreachable")

    def _transaction(self, good: list[Inbound], report: BatchReport) -> BatchOutcome:
        """One attempt: the batch applied and committed. Touches no Kafka client, so the
        database thread can run it."""
        conn = self._connection()
        began = time.perf_counter()
        with unit_of_work(conn, self.settings.policy) as uow:
            outcome = apply_batch(uow, good, self.settings.policy)
            applied = time.perf_counter()
        report.commit = time.perf_counter() - applied
        report.sql, report.state = uow.sql_seconds, uow.state_seconds
        report.rules = applied - began - uow.sql_seconds - uow.state_seconds
        return outcome

    def _put_back(self, consumer: Consumer, msg: Message) -> None:
        """Rewind a partition to a record polled while the batch waits, paused."""
        partition = TopicPartition(msg.topic(), msg.partition(), msg.offset())
        try:
            consumer.pause([partition])
            consumer.seek(partition)
            self.log.info("record_put_back", partition=msg.partition(), offset=msg.offset())
        except KafkaException as exc:  # revoked meanwhile: its new owner starts there
            self.log.warning("put_back_failed", partition=msg.partition(), error=str(exc))

    def _dead_letter(self, producer: Producer, dead: list[tuple[Message, DeadLetter]]) -> None:
        if not dead:
            return
        failures: list[str] = []
        too_large: list[tuple[Message, DeadLetter]] = []

        def send(msg: Message, letter: DeadLetter, value: bytes | None,
                 key: bytes | None, last_resort: bool = False) -> None:
            def delivered(err: KafkaError | None, _sent: Message) -> None:
                if err is None:
                    return
                if not last_resort and err.code() == KafkaError.MSG_SIZE_TOO_LARGE:
                    too_large.append((msg, letter))  # the broker refused it: see below
                else:
                    failures.append(str(err))

            try:
                producer.produce(dlq_topic(self.topic), key=key, value=value,
                                 headers=dlq_headers(msg, self.group, letter),
                                 on_delivery=delivered)
            except KafkaException as exc:
                if last_resort or exc.args[0].code() != KafkaError.MSG_SIZE_TOO_LARGE:
                    raise
                too_large.append((msg, letter))

        for msg, letter in dead:
            send(msg, letter, msg.value(), msg.key())
            # the reason names a field, never its value's personal data in the log
            self.log.warning("dead_letter", partition=msg.partition(), offset=msg.offset(),
                             error=letter.error)
        remaining = producer.flush(30)
        # An original too large for the DLQ with its headers (possible only above
        # CASES_MAX_RECORD_BYTES) goes as headers alone (and its key, unless that is what
        # is too large): they say where the original still is, and the consumer moves on
        # rather than failing on it for ever.
        for msg, letter in too_large:
            key, value_size = msg.key(), len(msg.value() or b"")
            if key is not None and len(key) > MAX_KEY_BYTES:
                left = f"the {value_size}-byte value and the {len(key)}-byte key are"
                key = None
            else:
                left = f"the {value_size}-byte value is"
            send(msg, DeadLetter(letter.error, f"{letter.reason}; {left} not copied, too large "
                                 f"for {dlq_topic(self.topic)}: read it at {msg.topic()}"
                                 f"[{msg.partition()}]@{msg.offset()}"), None, key,
                 last_resort=True)
            self.log.warning("dead_letter_without_value", partition=msg.partition(),
                             offset=msg.offset(), bytes=len(msg.value() or b""))
        if too_large:
            remaining = producer.flush(30)
        if failures or remaining:
            raise KafkaException(f"dead letters not acknowledged: {failures or remaining}")

    def _store_offsets(self, consumer: Consumer, messages: list[Message]) -> None:
        last: dict[int, int] = {}
        for msg in messages:
            last[msg.partition()] = max(last.get(msg.partition(), -1), msg.offset())
        offsets = [TopicPartition(self.topic, p, o + 1) for p, o in last.items()]
        try:
            consumer.store_offsets(offsets=offsets)
        except KafkaException as exc:  # a partition revoked meanwhile: its new owner replays
            self.log.warning("store_offsets_failed", error=str(exc))
