"""The loop every inbound consumer shares.

Per poll batch: decode every record (bad ones become dead letters); apply the good ones
in ONE database transaction (state, inbox, outbox); then send the dead letters and wait
for the broker's acknowledgement; only then store the offsets, which librdkafka commits
in the background. A crash anywhere replays the batch, and the inbox turns what was
already applied into a no-op.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg
import structlog
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from tenacity import Retrying, retry_if_exception_type, stop_never, wait_exponential

from configuration import Settings
from consumers.dlq import DeadLetter, dlq_headers
from domain.records import from_record
from schemas import TOPICS, dlq_topic, record_key
from schemas.codec import DecodeError, shared_codec
from schemas.json_form import ContractError, check_contract
from service.apply import BatchOutcome, apply_batch
from service.unit_of_work import Cause, Inbound
from storage.unit_of_work import unit_of_work

log = structlog.get_logger("consumers")


def consumer_group(topic: str) -> str:
    return f"order-cases.{topic}"


def decode(topic: str, msg: Message) -> Inbound | DeadLetter:
    """The record in a message, or why it is a dead letter."""
    codec = shared_codec()
    try:
        record = codec.decode(msg.value())
        if record["type"] not in TOPICS[topic]:
            raise ContractError("type", f"{record['type']} does not belong on topic {topic}")
        check_contract(record)
        key = msg.key()
        expected = record_key(topic, record)
        if key is None or key.decode(errors="replace") != expected:
            raise ContractError("key", "the message key does not match the record "
                                       f"(expected {expected!r})")
    except DecodeError as exc:
        return DeadLetter("schemas.codec.DecodeError", str(exc))
    except ContractError as exc:
        return DeadLetter("schemas.json_form.ContractError", str(exc))
    cause = Cause(topic, msg.partition(), msg.offset(), record["event_id"])
    return Inbound(cause, from_record(record))


@dataclass
class BatchReport:
    records: int = 0
    applied: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    case_events: int = 0
    seconds: float = 0.0


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

    # ---- clients -----------------------------------------------------------------------

    def _consumer(self) -> Consumer:
        config = self.settings.kafka(**{
            "group.id": self.group,
            "enable.auto.commit": True,
            "enable.auto.offset.store": False,  # stored only after the database commit
            "auto.commit.interval.ms": 1000,
            "auto.offset.reset": "earliest",
            "partition.assignment.strategy": "cooperative-sticky",
            "max.poll.interval.ms": 300_000,
        })
        # A member that dies without leaving (SIGKILL, OOM, a lost node) keeps its
        # partitions until the coordinator times its session out, and a rebalance
        # (its replacement joining) waits for that too: with librdkafka's 45 s default,
        # `make chaos` saw every kill stall its whole group for 45 s or more. Heartbeats
        # come from librdkafka's own thread, so a long batch cannot time the session out
        # (max.poll.interval.ms guards the loop). CASES_KAFKA_SESSION_TIMEOUT_MS overrides.
        config.setdefault("session.timeout.ms", 10_000)
        return Consumer(config)

    def _producer(self) -> Producer:
        return Producer(self.settings.kafka(**{"enable.idempotence": True, "linger.ms": 5}))

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.settings.database_url, autocommit=True)
        return self._conn

    # ---- the loop ----------------------------------------------------------------------

    def run(self) -> None:
        consumer, producer = self._consumer(), self._producer()

        def on_revoke(c: Consumer, partitions: list[TopicPartition]) -> None:
            try:  # hand over what this instance has applied before another takes over
                c.commit(asynchronous=False)
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError._NO_OFFSET:
                    self.log.warning("commit_on_revoke_failed", error=str(exc))

        consumer.subscribe([self.topic], on_revoke=on_revoke)
        self.log.info("consumer_started")
        try:
            while not self.stop.is_set():
                messages = consumer.consume(self.settings.batch_size, self.settings.poll_timeout)
                if messages:
                    self._handle(consumer, producer, messages)
        finally:
            producer.flush(30)
            consumer.close()  # commits the stored offsets and leaves the group
            if self._conn is not None:
                self._conn.close()
            self.log.info("consumer_stopped")

    def _handle(self, consumer: Consumer, producer: Producer, messages: list[Message]) -> None:
        started = time.perf_counter()
        good: list[Inbound] = []
        dead: list[tuple[Message, DeadLetter]] = []
        by_position: dict[tuple[int, int], Message] = {}
        for msg in messages:
            if msg.error():
                if msg.error().code() != KafkaError._PARTITION_EOF:
                    self.log.warning("consume_error", error=str(msg.error()))
                continue
            by_position[(msg.partition(), msg.offset())] = msg
            decoded = decode(self.topic, msg)
            if isinstance(decoded, DeadLetter):
                dead.append((msg, decoded))
            else:
                good.append(decoded)

        outcome = self._apply(consumer, good)
        for item, reason in outcome.invalid:
            msg = by_position[(item.cause.partition, item.cause.offset)]
            dead.append((msg, DeadLetter("domain.order.InvalidRecord", reason)))
        self._dead_letter(producer, dead)
        self._store_offsets(consumer, list(by_position.values()))

        report = BatchReport(len(by_position), outcome.applied, outcome.duplicates, len(dead),
                             len(outcome.events), time.perf_counter() - started)
        self.log.info("batch_done", **report.__dict__)
        if self.on_batch is not None:
            self.on_batch(report)

    def _apply(self, consumer: Consumer, good: list[Inbound]) -> BatchOutcome:
        """One transaction for the batch, retried with backoff while PostgreSQL is away
        (the partitions are paused meanwhile, so the group keeps this member)."""
        if not good:
            return BatchOutcome()
        paused = False

        def before_sleep(state: object) -> None:
            nonlocal paused
            # Pause what is assigned *now*, every time: a rebalance during the outage can
            # hand this member more partitions, unpaused, and the poll below would then
            # return their records. One returned here is put back (seek), or the offsets
            # stored after the next batch would skip it for good: `make chaos` staged
            # this (a member killed just before a database outage) and
            # tests/integration/test_rebalance_during_outage.py lost a record to it.
            consumer.pause(consumer.assignment())
            paused = True
            msg = consumer.poll(0)  # keeps the group membership alive
            if msg is not None and msg.error() is None:
                self._put_back(consumer, msg)
            self.log.warning("database_unavailable_retrying")
            if self._conn is not None:
                self._conn.close()

        retrying = Retrying(
            retry=retry_if_exception_type(psycopg.OperationalError),
            wait=wait_exponential(multiplier=0.2, max=10),
            stop=stop_never,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    conn = self._connection()
                    with unit_of_work(conn, self.settings.policy) as uow:
                        return apply_batch(uow, good, self.settings.policy)
        finally:
            if paused:  # what is assigned now: partitions revoked meanwhile are not ours
                consumer.resume(consumer.assignment())
        raise AssertionError("unreachable")

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

        def delivered(err: KafkaError | None, _msg: Message) -> None:
            if err is not None:
                failures.append(str(err))

        for msg, letter in dead:
            producer.produce(dlq_topic(self.topic), key=msg.key(), value=msg.value(),
                             headers=dlq_headers(msg, self.group, letter), on_delivery=delivered)
            # the reason names a field, never its value's personal data in the log
            self.log.warning("dead_letter", partition=msg.partition(), offset=msg.offset(),
                             error=letter.error)
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
