"""The parts of the service measured alone, without the rest: reading and decoding from
Kafka without the database (raw consume), storing without Kafka (raw store: what a
consumer's transaction does), and deciding what is stored (raw decide: what the
sweeper does), each with the service's own code."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from confluent_kafka import Consumer, TopicPartition

from bench.offsets import Offsets
from bench.services import cpu_seconds
from bootstrap.kafka import inbound_consumer_config
from configuration import Settings
from consumers import CONSUMERS
from consumers.batch import Limits, decode
from consumers.dead_letters import DeadLetter
from consumers.inbound import InboundMessage
from consumers.loop import next_batch
from schemas.codec import shared_codec
from service.store import store_batch
from service.unit_of_work import Inbound, PartitionStep
from storage.records import PostgresStore
from storage.transaction import transaction
from sweeper.decisions import decide_pass
from workload.generator import Published

#: after every record of any workload: every decision a raw pass can take
FAR = dt.datetime(2100, 1, 1, tzinfo=dt.UTC) - dt.timedelta(days=1)


@dataclass
class Rate:
    records: int = 0
    seconds: float = 0.0
    #: CPU time spent meanwhile (this process and its PostgreSQL backend)
    cpu_seconds: float = 0.0

    @property
    def per_second(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


def _limits(settings: Settings) -> Limits:
    # the workload's records are months old: no clock-skew check can fail them
    return Limits(settings.max_record_bytes, settings.clock_skew)


def raw_consume(settings: Settings, starts: Offsets, ends: Offsets) -> dict[str, Rate]:
    """Per topic, alone: a consumer with the service's fetch settings reads the offsets
    [start, end) and decodes each record as the service does (every contract check)."""
    rates: dict[str, Rate] = {}
    limits = _limits(settings)
    for topic in sorted({t for t, _ in ends}):
        consumer = Consumer(inbound_consumer_config(settings, topic,
                                                    f"bench-raw-{uuid.uuid4()}",
                                                    auto_commit=False))
        partitions = {p: (starts[t, p], ends[t, p]) for (t, p) in ends if t == topic}
        consumer.assign([TopicPartition(topic, p, start)
                         for p, (start, end) in partitions.items() if end > start])
        pending = {p for p, (start, end) in partitions.items() if end > start}
        rate = rates[topic] = Rate()
        started = 0.0
        while pending:
            messages = next_batch(consumer, settings.batch_size_for(topic), 1.0)
            if messages and not started:  # timed from the first record: not the connecting
                started = time.perf_counter()
            clock = limits.batch_clock()  # once a batch, as the consumers read it
            for msg in messages:
                if msg.error():
                    continue
                if isinstance(decode(CONSUMERS[topic], InboundMessage.of(msg), limits, clock),
                              DeadLetter):
                    raise AssertionError(f"{topic}@{msg.offset()} does not decode")
                rate.records += 1
                if msg.offset() >= partitions[msg.partition()][1] - 1:
                    pending.discard(msg.partition())
        rate.seconds = time.perf_counter() - started
        consumer.close()
    return rates


def decoded(settings: Settings, items: list[Published]) -> dict[str, list[Inbound]]:
    """The workload as the consumers decode it, per topic, each record at its offset in
    its topic's one partition (decoding is raw consume's half, not timed here)."""
    codec, limits = shared_codec(), _limits(settings)
    offsets: dict[str, int] = defaultdict(int)
    out: dict[str, list[Inbound]] = defaultdict(list)
    now = dt.datetime.now(dt.UTC)
    clock = limits.batch_clock(now)
    for item in items:
        offset = offsets[item.topic]
        offsets[item.topic] += 1
        found = decode(CONSUMERS[item.topic],
                       InboundMessage(item.topic, 0, offset, item.key.encode(),
                                      codec.encode(item.record), (), 2,
                                      int(now.timestamp() * 1000)), limits, clock)
        assert isinstance(found, Inbound), found
        out[item.topic].append(found)
    return out


def _batches(items: list[Inbound], size: int) -> Iterator[list[Inbound]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _step(batch: list[Inbound]) -> list[PartitionStep]:
    last = batch[-1].cause
    return [PartitionStep(last.topic, 0, last.offset + 1,
                          max(i.fields["occurred_at"] for i in batch))]


@dataclass
class RawResult:
    #: storing, per topic, each alone
    rates: dict[str, Rate]
    #: deciding everything stored, after it all was
    decide: Rate = field(default_factory=Rate)
    sql_seconds: float = 0.0
    case_events: int = 0
    refused: int = 0
    late_orders: int = 0


class RawDatabase:
    """Storing without Kafka, on one connection (a database of its own): each topic's
    records in the consumers' batches, one transaction per batch (`store`), then
    deciding everything stored as the sweeper does, in one pass (`decide`)."""

    def __init__(self, database_url: str, settings: Settings) -> None:
        self.settings, self.result = settings, RawResult(rates={})
        self._conn = psycopg.connect(database_url, autocommit=True)
        self._backend = _local_backend(self._conn)

    def _cpu(self) -> float:
        return time.process_time() + (cpu_seconds(self._backend) if self._backend else 0.0)

    def store(self, topic: str, items: list[Inbound]) -> Rate:
        rate = self.result.rates[topic] = Rate()
        cpu_before, began = self._cpu(), time.perf_counter()
        for batch in _batches(items, self.settings.batch_size_for(topic)):
            with transaction(self._conn):
                store = PostgresStore(self._conn)
                store_batch(store, batch, _step(batch))
            rate.records += len(batch)
            self.result.sql_seconds += store.sql_seconds
        rate.seconds, rate.cpu_seconds = time.perf_counter() - began, self._cpu() - cpu_before
        return rate

    def decide(self) -> RawResult:
        result = self.result
        cpu_before, began = self._cpu(), time.perf_counter()
        report = decide_pass(self._conn, FAR, self.settings.policy)
        result.decide = Rate(report.records, time.perf_counter() - began,
                             self._cpu() - cpu_before)
        result.case_events, result.refused = report.events, report.refused
        result.late_orders = report.late_orders
        return result

    def close(self) -> None:
        self._conn.close()


def _local_backend(conn: psycopg.Connection) -> int | None:
    """The pid of the connection's PostgreSQL backend when it runs on this machine."""
    pid = conn.info.backend_pid
    try:
        if b"postgres" in Path(f"/proc/{pid}/cmdline").read_bytes():
            return pid
    except OSError:
        pass
    return None


def raw_database_at_once(database_url: str, settings: Settings,
                         inbound: dict[str, list[Inbound]]) -> dict[str, Rate]:
    """The same batches, but each topic's in a process and connection of its own, all
    five started together, no Kafka: what the database allows when every consumer
    stores at once on this machine. A topic's rate is its records over the time from
    the common start to its last commit, as the pipeline's is."""
    context = multiprocessing.get_context("spawn")  # no inherited client threads
    ready, results = context.Queue(), context.Queue()
    start = context.Event()
    topics = sorted(inbound)
    workers = [context.Process(target=_store_topic, daemon=True,
                               args=(database_url, settings, topic, inbound[topic], ready,
                                     start, results)) for topic in topics]
    for worker in workers:
        worker.start()
    for _ in topics:
        ready.get(timeout=300)
    start.set()
    rates = {}
    for _ in topics:
        topic, records, seconds = results.get(timeout=1800)
        rates[topic] = Rate(records, seconds)
    for worker in workers:
        worker.join(60)
    return rates


def _store_topic(database_url: str, settings: Settings, topic: str, items: list[Inbound],
                 ready: Any, start: Any, results: Any) -> None:
    batches = list(_batches(items, settings.batch_size_for(topic)))
    with psycopg.connect(database_url, autocommit=True) as conn:
        ready.put(topic)
        start.wait()
        began = time.perf_counter()
        for batch in batches:
            with transaction(conn):
                store_batch(PostgresStore(conn), batch, _step(batch))
        results.put((topic, len(items), time.perf_counter() - began))
