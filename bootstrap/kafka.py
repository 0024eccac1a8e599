"""Every Kafka client of the service, built from `Settings` in one place.

Each is handed the deployment's settings (security first of all: `CASES_KAFKA_*`), its
own defaults, and what a guarantee rests on, which a deployment cannot override (see
`Settings.kafka`). librdkafka's own log lines go through the standard library's logging,
which structlog renders like every other line (observability.logging).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from confluent_kafka import Consumer, KafkaError, Message
from confluent_kafka import Producer as KafkaProducer
from confluent_kafka.admin import AdminClient

from configuration import Settings

#: called with the broker's answer for one produced message
OnDelivery = Callable[[KafkaError | None, Message], None]


def _logger(client: str) -> logging.Logger:
    return logging.getLogger(f"librdkafka.{client}")


def consumer_group(topic: str) -> str:
    """The consumer group of an inbound topic's consumer."""
    return f"order-cases.{topic}"


def inbound_consumer_config(settings: Settings, topic: str, group: str,
                            auto_commit: bool = True) -> dict[str, Any]:
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
        # Under a steady light load the broker answered each fetch with the record or two
        # that had just arrived: hundreds of fetches a second per consumer, and the
        # broker's CPU the largest share at 1,000 records/s. Holding a fetch up to 20 ms
        # unless 64 KiB are ready sends records in 20 ms lots instead (a backlog fills
        # the 64 KiB at once: no wait).
        "fetch.wait.max.ms": 20,
        "fetch.min.bytes": 64 << 10,
        # A member that dies without leaving (SIGKILL, OOM, a lost node) keeps its
        # partitions until its session times out, and the rebalance waits for that too:
        # with librdkafka's 45 s default, every kill stalled its group for 45 s or more.
        # Heartbeats come from librdkafka's own thread, so a long batch cannot time the
        # session out (max.poll.interval.ms guards the loop).
        "session.timeout.ms": 10_000,
    }
    return settings.kafka(tuning, **{
        "group.id": group,
        "enable.auto.commit": auto_commit,
        "enable.auto.offset.store": False,  # stored only after the database commit
        "auto.offset.reset": "earliest",
        "partition.assignment.strategy": "cooperative-sticky",
        "logger": _logger("consumer"),
    })


def inbound_consumer(settings: Settings, topic: str, group: str) -> Consumer:
    return Consumer(inbound_consumer_config(settings, topic, group))


def private_consumer(settings: Settings, group: str | None = None,
                     overrides: dict[str, Any] | None = None) -> Consumer:
    """A consumer that assigns partitions itself and commits nothing unless told to:
    replay, redrive, `cases events`, offset readers. Without a group it joins none."""
    return Consumer(settings.kafka(**{
        "group.id": group or f"order-cases.reader.{uuid.uuid4()}",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "logger": _logger("consumer"),
        **(overrides or {}),
    }))


def admin(settings: Settings) -> AdminClient:
    return AdminClient(settings.kafka(logger=_logger("admin")))


class Producer:
    """A Kafka producer with the one retry every caller needs: when librdkafka's queue
    is full (`BufferError`), let it deliver, then produce again."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.client = KafkaProducer(config)

    def produce(self, topic: str, value: bytes | None, key: bytes | None = None,
                headers: Sequence[tuple[str, bytes | None]] | None = None,
                on_delivery: OnDelivery | None = None) -> None:
        while True:
            try:
                self.client.produce(topic, value=value, key=key,
                                    headers=None if headers is None else [*headers],
                                    on_delivery=on_delivery)
                return
            except BufferError:
                self.client.poll(0.1)

    def poll(self, timeout: float = 0.0) -> int:
        return int(self.client.poll(timeout))

    def flush(self, timeout: float) -> int:
        """Wait up to `timeout` for every message's answer; how many are still waiting."""
        return int(self.client.flush(timeout))


def producer(settings: Settings, purpose: str) -> Producer:
    """`dead-letters` and `publish` (idempotent, a short linger), or `relay` (every
    replica's acknowledgement, compressed: it carries every case event)."""
    if purpose == "relay":
        extra: dict[str, Any] = {"acks": "all", "linger.ms": 2, "compression.type": "lz4"}
    else:
        extra = {"linger.ms": 5}
    return Producer(settings.kafka(**{"enable.idempotence": True, **extra,
                                      "logger": _logger(f"producer.{purpose}")}))
