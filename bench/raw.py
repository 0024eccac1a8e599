"""The two halves of a consumer measured alone: reading and decoding from Kafka without
the database, and the database work (the service's own unit of work and rules) without
Kafka."""

from __future__ import annotations

import cProfile
import io
import multiprocessing
import pstats
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from confluent_kafka import Consumer, TopicPartition
from consumers.dlq import DeadLetter
from consumers.runtime import consumer_settings, decode, next_batch
from service.apply import apply_batch
from storage.unit_of_work import unit_of_work

from bench.offsets import Offsets
from bench.services import cpu_seconds
from configuration import Settings
from domain.records import from_record
from schemas import INBOUND_TOPICS
from service.unit_of_work import Cause, Inbound
from workload.generator import Published


@dataclass
class Rate:
    records: int = 0
    seconds: float = 0.0
    #: CPU time spent meanwhile (raw database alone: this process and its PostgreSQL
    #: backend), to tell how many cores the work keeps busy
    cpu_seconds: float = 0.0

    @property
    def per_second(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


def raw_consume(settings: Settings, starts: Offsets, ends: Offsets) -> dict[str, Rate]:
    """Per topic, alone: a consumer with the service's fetch settings reads the offsets
    [start, end) and decodes each record as the service does (contract checks
    included)."""
    rates: dict[str, Rate] = {}
    for topic in sorted({t for t, _ in ends}):
        consumer = Consumer(consumer_settings(settings, topic, f"bench-raw-{uuid.uuid4()}",
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
            for msg in messages:
                if msg.error():
                    continue
                if isinstance(decode(topic, msg), DeadLetter):
                    raise AssertionError(f"{topic}@{msg.offset()} does not decode")
                rate.records += 1
                if msg.offset() >= partitions[msg.partition()][1] - 1:
                    pending.discard(msg.partition())
        rate.seconds = time.perf_counter() - started
        consumer.close()
    return rates


@dataclass
class RawDatabase:
    rates: dict[str, Rate]
    #: summed stage times (sql, state, rules, commit) of every batch
    stages: dict[str, float] = field(default_factory=dict)
    case_events: int = 0
    invalid: int = 0
    profile: str = ""


def _inbound(items: list[Published]) -> list[tuple[str, Inbound]]:
    """The workload as the consumers would decode it (decoding is the raw-consume half),
    each record at its offset in its topic."""
    offsets: dict[str, int] = defaultdict(int)
    inbound: list[tuple[str, Inbound]] = []
    for item in items:
        offset = offsets[item.topic]
        offsets[item.topic] += 1
        inbound.append((item.topic, Inbound(Cause(item.topic, 0, offset,
                                                  item.record["event_id"]),
                                            from_record(item.record))))
    return inbound


def _batches(inbound: list[tuple[str, Inbound]], settings: Settings
             ) -> Iterator[tuple[str, list[Inbound]]]:
    """Each topic's next batch of its consumer's size as the stream reaches it (as the
    consumers would take them), then what is left of each topic."""
    pending: dict[str, list[Inbound]] = defaultdict(list)
    for topic, item in inbound:
        pending[topic].append(item)
        if len(pending[topic]) >= settings.batch_size_for(topic):
            yield topic, pending.pop(topic)
    yield from ((topic, batch) for topic, batch in pending.items() if batch)


def _in_turn(items: list[Published], settings: Settings
             ) -> Iterator[tuple[str, list[Inbound]]]:
    """Each topic's batches, one topic after another (orders first, as each order's
    records begin with its OrderPlaced)."""
    for topic in INBOUND_TOPICS:
        yield from _batches(_inbound([i for i in items if i.topic == topic]), settings)


def raw_database(database_url: str, settings: Settings, items: list[Published],
                 profile: bool = False) -> RawDatabase:
    """Apply the workload through the service's unit of work, in batches of the service's
    size per topic, one transaction per batch, on one connection, each topic alone: the
    topics in turn, as the pipeline's each-alone run takes them, so that both see the
    same records against the same state."""
    result = RawDatabase(rates={},
                         stages=dict.fromkeys(("sql", "state", "rules", "commit"), 0.0))
    profiler = cProfile.Profile() if profile else None

    with psycopg.connect(database_url, autocommit=True) as conn:
        backend = _local_backend(conn)

        def cpu() -> float:
            return time.process_time() + (cpu_seconds(backend) if backend else 0.0)

        if profiler:
            profiler.enable()
        for topic, batch in _in_turn(items, settings):
            cpu_before = cpu()
            began = time.perf_counter()
            with unit_of_work(conn, settings.policy) as uow:
                outcome = apply_batch(uow, batch, settings.policy)
                applied = time.perf_counter()
            finished = time.perf_counter()
            rate = result.rates.setdefault(topic, Rate())
            rate.records += len(batch)
            rate.seconds += finished - began
            rate.cpu_seconds += cpu() - cpu_before
            result.stages["sql"] += uow.sql_seconds
            result.stages["state"] += uow.state_seconds
            result.stages["rules"] += applied - began - uow.sql_seconds - uow.state_seconds
            result.stages["commit"] += finished - applied
            result.case_events += len(outcome.events)
            result.invalid += len(outcome.invalid)
        if profiler:
            profiler.disable()
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
        result.profile = out.getvalue()
    return result


def _local_backend(conn: psycopg.Connection) -> int | None:
    """The pid of the connection's PostgreSQL backend when it runs on this machine."""
    pid = conn.info.backend_pid
    try:
        if b"postgres" in Path(f"/proc/{pid}/cmdline").read_bytes():
            return pid
    except OSError:
        pass
    return None


def raw_database_at_once(database_url: str, settings: Settings, items: list[Published]
                         ) -> dict[str, Rate]:
    """The same batches, but each topic's in a process and connection of its own, all
    five started together, no Kafka: what the database allows when every consumer writes
    at once on this machine. A topic's rate is its records over the time from the common
    start to its last commit, as the pipeline's is."""
    context = multiprocessing.get_context("spawn")  # no inherited client threads
    ready, results = context.Queue(), context.Queue()
    start = context.Event()
    topics = sorted({i.topic for i in items})
    workers = [context.Process(target=_apply_topic, daemon=True,
                               args=(database_url, settings, topic,
                                     [i for i in items if i.topic == topic], ready, start,
                                     results)) for topic in topics]
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


def _apply_topic(database_url: str, settings: Settings, topic: str, items: list[Published],
                 ready: Any, start: Any, results: Any) -> None:
    """Apply one topic's records (`items`, that topic's only) in the service's batches."""
    batches = [batch for _, batch in _batches(_inbound(items), settings)]
    with psycopg.connect(database_url, autocommit=True) as conn:
        ready.put(topic)
        start.wait()
        began = time.perf_counter()
        for batch in batches:
            while True:
                try:
                    with unit_of_work(conn, settings.policy) as uow:
                        apply_batch(uow, batch, settings.policy)
                    break
                except psycopg.errors.DeadlockDetected:  # as the consumers do: again
                    continue
        results.put((topic, sum(map(len, batches)), time.perf_counter() - began))
