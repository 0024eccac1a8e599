"""Latency of decisions, under a steady load of records of the moment (workload/live.py).

Each record is published at the moment it happened (its `occurred_at`), so it is within
the allowed lateness, and the watermark passes it once the allowed lateness has gone by.
A follower reads `case-events` and notes when each event arrives; the database says
which record caused each event. Two figures per event:
- beyond the allowed lateness: arrival - (the cause's occurred_at + allowed lateness),
  what the service adds to the wait that the allowed lateness imposes (the sweeper
  noticing, deciding, and the relay publishing);
- end to end: arrival - the cause's occurred_at.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
import uuid
from dataclasses import dataclass, field

import psycopg
from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition

from bench.offsets import end_offsets
from configuration import Settings
from schemas import CASE_EVENTS_TOPIC
from schemas.codec import shared_codec
from workload.live import Due


@dataclass
class Latency:
    records: int
    seconds: float
    allowed_lateness: float
    #: milliseconds, per case event read back
    beyond: list[float] = field(default_factory=list)
    total: list[float] = field(default_factory=list)
    #: how long after it happened each record reached Kafka (its broker timestamp), ms:
    #: what the allowed lateness must cover
    reached: list[float] = field(default_factory=list)
    by_topic: dict[str, list[float]] = field(default_factory=dict)
    #: `beyond` in two parts, ms: until the sweeper's transaction that decided the event
    #: began (the watermark, the sweeper's pace, the passes before), and from then until
    #: the event was read back (the pass, its commit, the relay, the broker)
    until_decided: list[float] = field(default_factory=list)
    decided_to_read: list[float] = field(default_factory=list)
    #: CPU seconds of each of the service's processes (postgres and kafka included)
    #: from the first record published to the last event read back, and that time
    cpu: dict[str, float] = field(default_factory=dict)
    wall: float = 0.0

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0

    def cores(self, name: str | None = None) -> float:
        """The cores a process (all of them by default) kept busy, on average."""
        if not self.wall:
            return 0.0
        used = sum(self.cpu.values()) if name is None else self.cpu.get(name, 0.0)
        return used / self.wall


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


class _Follower(threading.Thread):
    """Reads `case-events` from given offsets, noting when each event arrived."""

    def __init__(self, settings: Settings, starts: dict[tuple[str, int], int]) -> None:
        super().__init__(daemon=True)
        self.consumer = Consumer(settings.kafka(**{
            "group.id": f"bench-latency-{uuid.uuid4()}", "enable.auto.commit": False,
            "fetch.wait.max.ms": 10}))
        self.consumer.assign([TopicPartition(t, p, o) for (t, p), o in starts.items()])
        self.stop = threading.Event()
        #: event_id -> when it was read, seconds since the epoch
        self.seen: dict[str, float] = {}

    def run(self) -> None:
        codec = shared_codec()
        while not self.stop.is_set():
            msg = self.consumer.poll(0.05)
            if msg is None or msg.error():
                continue
            self.seen[codec.decode(msg.value())["event_id"]] = time.time()
        self.consumer.close()


def settle(database_url: str) -> None:
    """What autovacuum and the checkpointer would do in the minutes after a backlog, done
    now: the settled run measures the service at a steady rate, not the database
    catching up on a burst."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
        with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
            conn.execute("CHECKPOINT")


def publish_on_time(settings: Settings, stream: list[Due]) -> float:
    """Produce each record at its moment; the seconds it took."""
    producer = Producer(settings.kafka(**{"enable.idempotence": True, "linger.ms": 1}))
    codec = shared_codec()
    failures: list[str] = []

    def failed(err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            failures.append(str(err))

    started = time.perf_counter()
    for due in stream:
        wait = (due.at - dt.datetime.now(dt.UTC)).total_seconds()
        while wait > 0:
            producer.poll(min(wait, 0.01))
            wait = (due.at - dt.datetime.now(dt.UTC)).total_seconds()
        item = due.item
        producer.produce(item.topic, key=item.key.encode(), value=codec.encode(item.record),
                         on_delivery=failed)
        producer.poll(0)
    if producer.flush(60) or failures:
        raise RuntimeError(f"latency records not acknowledged: {failures[:1]}")
    return time.perf_counter() - started


def measure(settings: Settings, database_url: str, stream: list[Due],
            allowed_lateness: dt.timedelta) -> Latency:
    """Publish `stream` on time to the running service; read back every case event its
    records caused."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute("SELECT coalesce(max(seq), 0) FROM case_events").fetchone()
        before = row[0] if row else 0
    follower = _Follower(settings, end_offsets(settings, [CASE_EVENTS_TOPIC]))
    follower.start()
    seconds = publish_on_time(settings, stream)
    happened = {d.item.record["event_id"]: d.at.timestamp() for d in stream}
    deadline = time.monotonic() + 60 + allowed_lateness.total_seconds()
    causes: list[tuple[str, str, str, float]] = []
    while time.monotonic() < deadline:
        with psycopg.connect(database_url, autocommit=True) as conn:
            causes = conn.execute(
                "SELECT event_id, cause_event_id, cause_topic, "
                "extract(epoch FROM created_at)::float8 FROM case_events "
                "WHERE seq > %s", (before,)).fetchall()
        if causes and all(c[0] in follower.seen for c in causes) and _settled(database_url):
            break
        time.sleep(0.2)
    follower.stop.set()
    follower.join(10)
    lateness = allowed_lateness.total_seconds()
    result = Latency(len(stream), seconds, lateness)
    with psycopg.connect(database_url, autocommit=True) as conn:
        result.reached = [float(r[0]) for r in conn.execute(
            'SELECT "timestamp" - extract(epoch FROM occurred_at) * 1000 FROM order_records '
            "WHERE event_id = ANY(%s)", (list(happened),))]
    for event_id, cause, topic, created in causes:
        if event_id in follower.seen and cause in happened:
            total = (follower.seen[event_id] - happened[cause]) * 1000
            result.total.append(total)
            result.beyond.append(total - lateness * 1000)
            result.by_topic.setdefault(topic, []).append(total - lateness * 1000)
            # created_at is the deciding transaction's start (now())
            result.until_decided.append((created - happened[cause] - lateness) * 1000)
            result.decided_to_read.append((follower.seen[event_id] - created) * 1000)
    return result


def _settled(database_url: str) -> bool:
    """Nothing left to decide or publish."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM undecided_records) + "
            "(SELECT count(*) FROM unpublished_case_events)").fetchone()
    return bool(row) and row[0] == 0
