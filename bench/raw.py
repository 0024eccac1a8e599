"""The two halves of a consumer measured alone: reading and decoding from Kafka without
the database, and the database work (the service's own unit of work and rules) without
Kafka."""

from __future__ import annotations

import cProfile
import io
import pstats
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

import psycopg
from confluent_kafka import Consumer, TopicPartition

from bench.offsets import Offsets
from configuration import Settings
from consumers.dlq import DeadLetter
from consumers.runtime import consumer_settings, decode, next_batch
from domain.records import from_record
from service.apply import apply_batch
from service.unit_of_work import Cause, Inbound
from storage.unit_of_work import unit_of_work
from workload.generator import Published


@dataclass
class Rate:
    records: int = 0
    seconds: float = 0.0

    @property
    def per_second(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


def raw_consume(settings: Settings, starts: Offsets, ends: Offsets) -> dict[str, Rate]:
    """Per topic, alone: a consumer with the service's fetch settings reads the offsets
    [start, end) and decodes each record as the service does (contract checks
    included)."""
    rates: dict[str, Rate] = {}
    for topic in sorted({t for t, _ in ends}):
        consumer = Consumer(consumer_settings(settings, f"bench-raw-{uuid.uuid4()}",
                                              auto_commit=False))
        partitions = {p: (starts[t, p], ends[t, p]) for (t, p) in ends if t == topic}
        consumer.assign([TopicPartition(topic, p, start)
                         for p, (start, end) in partitions.items() if end > start])
        pending = {p for p, (start, end) in partitions.items() if end > start}
        rate = rates[topic] = Rate()
        started = 0.0
        while pending:
            messages = next_batch(consumer, settings.batch_size, 1.0)
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


def raw_database(database_url: str, settings: Settings, items: list[Published],
                 profile: bool = False) -> RawDatabase:
    """Apply the workload through the service's unit of work, in batches of the service's
    size per topic, taking each topic's next batch as the stream reaches it (as the
    consumers would), one transaction per batch, on one connection."""
    offsets: dict[str, int] = defaultdict(int)
    inbound: list[tuple[str, Inbound]] = []
    for item in items:  # decoded up front: decoding is the raw-consume half
        offset = offsets[item.topic]
        offsets[item.topic] += 1
        inbound.append((item.topic, Inbound(Cause(item.topic, 0, offset,
                                                  item.record["event_id"]),
                                            from_record(item.record))))
    result = RawDatabase(rates={},
                         stages=dict.fromkeys(("sql", "state", "rules", "commit"), 0.0))
    pending: dict[str, list[Inbound]] = defaultdict(list)
    profiler = cProfile.Profile() if profile else None

    with psycopg.connect(database_url, autocommit=True) as conn:
        def apply(topic: str) -> None:
            batch, pending[topic] = pending[topic], []
            began = time.perf_counter()
            with unit_of_work(conn, settings.policy) as uow:
                outcome = apply_batch(uow, batch, settings.policy)
                applied = time.perf_counter()
            finished = time.perf_counter()
            rate = result.rates.setdefault(topic, Rate())
            rate.records += len(batch)
            rate.seconds += finished - began
            result.stages["sql"] += uow.sql_seconds
            result.stages["state"] += uow.state_seconds
            result.stages["rules"] += applied - began - uow.sql_seconds - uow.state_seconds
            result.stages["commit"] += finished - applied
            result.case_events += len(outcome.events)
            result.invalid += len(outcome.invalid)

        if profiler:
            profiler.enable()
        for topic, item in inbound:
            pending[topic].append(item)
            if len(pending[topic]) >= settings.batch_size:
                apply(topic)
        for topic in list(pending):
            if pending[topic]:
                apply(topic)
        if profiler:
            profiler.disable()
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
        result.profile = out.getvalue()
    return result
