"""Latency from publishing an inbound record to reading the case event it caused on
`case-events`, under a steady load.

Method: the publisher notes each inbound record's Kafka timestamp (CreateTime, which
librdkafka sets when `produce` is called); a follower consumer reads `case-events` and
notes the wall-clock time it receives each event; the database says which inbound record
caused each event (`case_events.cause_event_id`). Latency = time read - time published,
all on one host clock (millisecond timestamps). The case event's own Kafka timestamp
(set when the relay produced it) splits that into "to the relay" and "relay to reader".
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from dataclasses import dataclass, field

import psycopg
from confluent_kafka import Consumer, Message, TopicPartition

from bench.offsets import end_offsets
from bench.pipeline import Pipeline, drain
from configuration import Settings
from schemas import CASE_EVENTS_TOPIC, INBOUND_TOPICS
from schemas.codec import shared_codec
from workload.generator import Published
from workload.publish import encode, produce_encoded


@dataclass
class Latency:
    records: int
    seconds: float
    #: end-to-end, to the relay's produce, relay to reader: in milliseconds, per event
    total: list[float] = field(default_factory=list)
    to_relay: list[float] = field(default_factory=list)
    to_reader: list[float] = field(default_factory=list)
    #: published -> the applying transaction began (queued in Kafka and in the consumer)
    to_transaction: list[float] = field(default_factory=list)
    #: end-to-end, by the topic of the causing record
    by_topic: dict[str, list[float]] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


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
        #: event_id -> (read at, produced at), seconds since the epoch
        self.seen: dict[str, tuple[float, float]] = {}

    def run(self) -> None:
        codec = shared_codec()
        while not self.stop.is_set():
            msg = self.consumer.poll(0.05)
            if msg is None or msg.error():
                continue
            read_at = time.time()
            event_id = codec.decode(msg.value())["event_id"]
            self.seen[event_id] = (read_at, msg.timestamp()[1] / 1000)
        self.consumer.close()


def settle(database_url: str) -> None:
    """What autovacuum and the checkpointer would do in the minutes after a backlog, done
    now: the settled latency run measures the service at a steady rate, not the database
    catching up on a burst."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
        # not a superuser (nor pg_checkpoint): the checkpointer does it in its own time
        with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
            conn.execute("CHECKPOINT")


def measure(settings: Settings, pipeline: Pipeline, database_url: str,
            items: list[Published], rate: float) -> Latency:
    """Publish `items` at `rate` records/s to the running pipeline; wait until it has
    drained and every resulting case event was read back."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        before = conn.execute("SELECT coalesce(max(seq), 0) FROM case_events").fetchone()[0]  # type: ignore[index]
    follower = _Follower(settings, end_offsets(settings, [CASE_EVENTS_TOPIC]))
    follower.start()
    published: dict[str, float] = {}

    def delivered(position: int, msg: Message) -> None:
        published[items[position].record["event_id"]] = msg.timestamp()[1] / 1000

    encoded = list(encode(items))
    started = time.perf_counter()
    produce_encoded(settings, encoded, rate, on_delivered=delivered)
    seconds = time.perf_counter() - started
    drain(settings, pipeline, end_offsets(settings, list(INBOUND_TOPICS)), database_url,
          started)
    with psycopg.connect(database_url, autocommit=True) as conn:
        causes = conn.execute(  # created_at: now(), when the applying transaction began
            "SELECT event_id, cause_event_id, cause_topic, extract(epoch FROM created_at) "
            "FROM case_events WHERE seq > %s", (before,)).fetchall()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not all(c[0] in follower.seen for c in causes):
        time.sleep(0.1)
    follower.stop.set()
    follower.join(10)

    result = Latency(len(items), seconds)
    for event_id, cause, topic, began in causes:
        if event_id in follower.seen and cause in published:
            read_at, produced_at = follower.seen[event_id]
            result.to_transaction.append((float(began) - published[cause]) * 1000)
            result.total.append((read_at - published[cause]) * 1000)
            result.by_topic.setdefault(topic, []).append(result.total[-1])
            result.to_relay.append((produced_at - published[cause]) * 1000)
            result.to_reader.append((read_at - produced_at) * 1000)
    return result
