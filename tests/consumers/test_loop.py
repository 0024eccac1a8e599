"""The live loop's order of work when it overlaps two batches (Kafka's clients and the
batch's transaction are faked here; tests/integration runs the loop on the real broker
and database, through outages and rebalances)."""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any

import psycopg
from confluent_kafka import TopicPartition

from configuration import Settings, settings_from_env
from consumers import CONSUMERS
from consumers.batch import BatchReport
from consumers.loop import TopicConsumer
from schemas import record_key
from schemas.codec import shared_codec
from schemas.json_form import from_json
from service.store import Stored
from service.unit_of_work import Inbound, PartitionStep

TOPIC = "orders"
SETTINGS = settings_from_env({"KAFKA_BOOTSTRAP_SERVERS": "localhost:9092",
                              "DATABASE_URL": "postgresql://localhost/cases",
                              "CASES_BATCH_SIZE_ORDERS": "2"})


class FakeMessage:
    def __init__(self, offset: int) -> None:
        record = from_json(TOPIC, {"event_id": f"e{offset}", "type": "OrderCancelled",
                                   "occurred_at": "2026-03-01T10:00:00Z",
                                   "order_id": f"o{offset}"})
        self._offset = offset
        self._key = record_key(TOPIC, record).encode()
        self._value = shared_codec().encode(record)

    def error(self) -> None:
        return None

    def topic(self) -> str:
        return TOPIC

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes:
        return self._key

    def value(self) -> bytes:
        return self._value

    def headers(self) -> None:
        return None

    def timestamp(self) -> tuple[int, int]:
        return 2, int(time.time() * 1000)


class FakeConsumer:
    """Hands out the scripted batches, then nothing; says in `log` what it was asked."""

    def __init__(self, batches: list[list[FakeMessage]], log: list[Any],
                 stop: threading.Event, last_offset: int) -> None:
        self.batches, self.log, self.stop, self.last_offset = batches, log, stop, last_offset
        self.on_revoke: Any = None
        #: called with the batch number before consume() hands that batch out
        self.before_batch: dict[int, Any] = {}
        self.handed = 0
        #: when consume() was called
        self.polls: list[float] = []

    def subscribe(self, _topics: list[str], on_assign: Any, on_revoke: Any,
                  on_lost: Any) -> None:
        self.on_revoke = on_revoke

    def consume(self, _n: int, timeout: float) -> list[FakeMessage]:
        self.polls.append(time.monotonic())
        if self.batches:
            self.handed += 1
            if self.handed in self.before_batch:
                self.before_batch[self.handed](self)
            batch = self.batches.pop(0)
            self.log.append(("polled", batch[0].offset()))
            return batch
        time.sleep(timeout)
        return []

    def poll(self, timeout: float) -> None:
        time.sleep(min(timeout, 0.01))

    def store_offsets(self, offsets: list[TopicPartition]) -> None:
        self.log.append(("stored", offsets[0].offset))
        if offsets[0].offset > self.last_offset:
            self.stop.set()

    def commit(self, asynchronous: bool = True) -> None:
        self.log.append("committed")

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition(TOPIC, 0)]

    def pause(self, _partitions: list[TopicPartition]) -> None:
        self.log.append("paused")

    def resume(self, _partitions: list[TopicPartition]) -> None:
        self.log.append("resumed")

    def close(self) -> None:
        self.log.append("closed")


class FakeProducer:
    def produce(self, *_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("no dead letters expected")

    def flush(self, _timeout: float) -> int:
        return 0


class FakeBatchStore:
    """The database side of a batch: `transaction(log, good)` stands for its one attempt."""

    group = "order-cases.orders"

    def __init__(self, transaction: Any, log: list[Any]) -> None:
        self.transaction, self.log = transaction, log

    def attempt(self, good: list[Inbound], _steps: list[PartitionStep],
                _report: BatchReport) -> Stored:
        return self.transaction(self.log, good)

    def drop_connection(self) -> None:
        pass

    close = drop_connection


def run_loop(batches: list[list[FakeMessage]],
             transaction: Any, before_batch: dict[int, Any] | None = None,
             settings: Settings = SETTINGS) -> list[Any]:
    """Run the live loop over `batches` with `transaction` for the database; the log
    (the consumer's last entry)."""
    log: list[Any] = []
    stop = threading.Event()
    last = batches[-1][-1].offset()
    consumer = FakeConsumer(batches, log, stop, last)
    consumer.before_batch = before_batch or {}
    runner = TopicConsumer(CONSUMERS[TOPIC], settings, stop=stop)
    # type: ignore below: a fake at the boundary
    runner.store = FakeBatchStore(transaction, log)  # type: ignore[assignment]
    done = threading.Thread(target=runner.run, args=(consumer, FakeProducer()))
    done.start()
    done.join(10)
    stop.set()
    assert not done.is_alive(), log
    log.append(consumer)
    return log


def batches(count: int) -> list[list[FakeMessage]]:
    return [[FakeMessage(2 * n), FakeMessage(2 * n + 1)] for n in range(count)]


def test_the_next_batch_is_polled_during_a_transaction_which_ends_before_the_next_begins():
    second_polled = threading.Event()

    def transaction(log: list[Any], good: list[Inbound]) -> Stored:
        log.append(("began", good[0].cause.offset))
        if good[0].cause.offset == 0:
            # without the overlap the second batch is polled only after this returns
            log.append(("overlapped", second_polled.wait(2)))
        log.append(("committed", good[0].cause.offset))
        return Stored(stored=len(good))

    log = run_loop(batches(2), transaction,
                   before_batch={2: lambda _c: second_polled.set()})
    assert ("overlapped", True) in log
    assert (log.index(("polled", 2)) < log.index(("committed", 0)) < log.index(("stored", 2))
            < log.index(("began", 2)) < log.index(("committed", 2)) < log.index(("stored", 4)))


def test_a_first_attempt_that_finds_the_database_away_is_retried_in_the_loop():
    threads: list[str] = []

    def transaction(log: list[Any], good: list[Inbound]) -> Stored:
        threads.append(threading.current_thread().name)
        if len(threads) == 1:
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        log.append(("applied", good[0].cause.offset))
        return Stored(stored=len(good))

    log = run_loop(batches(1), transaction)
    assert threads[0].startswith(f"{TOPIC}-database")
    # the retry runs in the loop's thread: it pauses the partitions meanwhile
    assert not threads[1].startswith(f"{TOPIC}-database")
    assert log.count(("applied", 0)) == 1
    assert log.index("paused") < log.index(("applied", 0)) < log.index(("stored", 2))
    assert log.count(("stored", 2)) == 1


def test_a_revoke_while_the_next_batch_is_polled_stores_the_batch_in_flight_first():
    def transaction(log: list[Any], good: list[Inbound]) -> Stored:
        log.append(("applied", good[0].cause.offset))
        return Stored(stored=len(good))

    def revoke(consumer: FakeConsumer) -> None:
        consumer.log.append("revoking")
        consumer.on_revoke(consumer, [TopicPartition(TOPIC, 0)])

    log = run_loop(batches(2), transaction, before_batch={2: revoke})
    # the commit that hands the partition over carries what the first batch applied
    assert log.index("revoking") < log.index(("stored", 2)) < log.index("committed")
    assert log.index(("applied", 0)) < log.index(("stored", 2))
    assert log.count(("stored", 2)) == 1


def test_a_transaction_that_does_not_end_stops_the_polls_after_the_poll_timeout():
    """So max.poll.interval.ms still takes a stuck member's partitions to another."""
    settings = dataclasses.replace(SETTINGS, poll_timeout=0.2)
    stuck: dict[str, float] = {}

    def transaction(log: list[Any], good: list[Inbound]) -> Stored:
        if good[0].cause.offset == 0:
            stuck["began"] = time.monotonic()
            time.sleep(1.0)  # a row lock another session holds, say
            stuck["ended"] = time.monotonic()
        return Stored(stored=len(good))

    log = run_loop([[FakeMessage(0)], [FakeMessage(1)]], transaction,
                   settings=settings)
    consumer = log[-1]
    during = [t for t in consumer.polls
              if stuck["began"] + 0.2 + 0.05 < t < stuck["ended"]]
    assert during == []
    assert any(stuck["began"] < t < stuck["began"] + 0.2 for t in consumer.polls)


class Arrivals:
    """Records that reach the consumer at given moments after it is made."""

    def __init__(self, *after: float) -> None:
        start = time.monotonic()
        self.due = [(start + seconds, FakeMessage(n)) for n, seconds in enumerate(after)]

    def _arrived(self, n: int) -> list[FakeMessage]:
        now = time.monotonic()
        taken = [m for at, m in self.due if at <= now][:n]
        self.due = [(at, m) for at, m in self.due if m not in taken]
        return taken

    def consume(self, n: int, timeout: float) -> list[FakeMessage]:
        until = time.monotonic() + timeout
        found = self._arrived(n)
        while len(found) < n and time.monotonic() < until:
            time.sleep(0.001)
            found += self._arrived(n - len(found))
        return found

    def poll(self, timeout: float) -> FakeMessage | None:
        found = self.consume(1, timeout)
        return found[0] if found else None


def test_a_batch_gathers_what_arrives_shortly_after_its_first_record():
    from consumers.loop import next_batch

    gathered = next_batch(Arrivals(0, 0.005, 0.01, 0.5), 10, 1.0, gather=0.05)  # type: ignore[arg-type]
    alone = next_batch(Arrivals(0, 0.005, 0.01), 10, 1.0, gather=0.0)  # type: ignore[arg-type]
    full = next_batch(Arrivals(0, 0.005, 0.01), 2, 1.0, gather=0.05)  # type: ignore[arg-type]

    assert [m.offset() for m in gathered] == [0, 1, 2]
    assert [m.offset() for m in alone] == [0]
    assert [m.offset() for m in full] == [0, 1]
