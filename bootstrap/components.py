"""The components `cases run` starts: a consumer per inbound topic, the relay and the
sweeper, each built from `Settings`, reporting how it is doing (observability), and run
until `stop` is set."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import TYPE_CHECKING

from bootstrap.garbage import settle_after_start_up
from configuration import Settings
from observability import metrics
from observability.health import Health
from schemas import CASE_EVENT_TYPES, INBOUND_TOPICS

if TYPE_CHECKING:
    from confluent_kafka import Consumer

    from consumers.batch import BatchReport
    from consumers.loop import TopicConsumer
    from domain.watermark import PartitionProgress, Watermark
    from relay.outbox import OutboxRelay
    from service.decide import PassReport
    from sweeper.loop import Sweeper

COMPONENTS: list[str] = [*INBOUND_TOPICS, "relay", "sweeper"]

# Each builder imports its component's code itself: a process runs one component, and
# importing the other two's (the rules and the sweeper in a consumer, the contract's
# checks in the sweeper) cost every process about a tenth of a CPU-second at start.


class UnknownComponent(ValueError):
    pass


def run_component(name: str, settings: Settings, stop: threading.Event) -> None:
    health = Health(name)
    settle_after_start_up()
    if name in INBOUND_TOPICS:
        consumer(name, settings, stop, health).run()
    elif name == "relay":
        relay(settings, stop, health).run()
    elif name == "sweeper":
        sweeper(settings, stop, health).run()
    else:
        raise UnknownComponent(f"unknown component {name}")


def consumer(topic: str, settings: Settings, stop: threading.Event,
             health: Health) -> TopicConsumer:
    from bootstrap.lag import ConsumerLag
    from consumers import CONSUMERS
    from consumers.loop import TopicConsumer

    lag = ConsumerLag(topic, on_broker_error=metrics.BROKER_ERRORS.labels(topic).inc)

    def polled(kafka_consumer: Consumer) -> None:
        health.beat()
        lag.polled(kafka_consumer)

    def batch(report: BatchReport) -> None:
        health.database_back()
        metrics.RECORDS_STORED.labels(topic).inc(report.stored)
        metrics.RECORDS_DUPLICATE.labels(topic).inc(report.duplicates)
        for reason, count in report.dead_by_error.items():
            metrics.DEAD_LETTERS.labels(topic, reason).inc(count)
        metrics.BATCH_DURATION.labels(topic).observe(report.seconds)
        metrics.BATCH_SIZE.labels(topic).observe(report.records)

    for family in (metrics.RECORDS_STORED, metrics.RECORDS_DUPLICATE, metrics.BATCH_DURATION,
                   metrics.BATCH_SIZE):
        family.labels(topic)  # at zero until the first batch (observability.metrics)
    health.ready(True)
    return TopicConsumer(CONSUMERS[topic], settings, stop=stop, on_batch=batch,
                         on_retry=lambda _attempt: health.waiting_for_database(),
                         on_poll=polled,
                         on_broker_error=metrics.BROKER_ERRORS.labels(topic).inc)


def sweeper(settings: Settings, stop: threading.Event, health: Health) -> Sweeper:
    from domain.watermark import unread
    from service.decide import DEADLINE_RULES
    from sweeper.loop import LOOK_OUTCOMES, Sweeper

    def measured(mark: Watermark, partitions: list[PartitionProgress],
                 low: dt.datetime | None) -> None:
        health.database_back()
        metrics.UNREAD.set(unread(partitions))
        if low is not None:
            metrics.WATERMARK.set(low.timestamp())
            metrics.WATERMARK_DELAY.set(
                (dt.datetime.now(dt.UTC) - low).total_seconds())
        for p in partitions:
            if p.frontier is not None:
                metrics.FRONTIER.labels(p.topic, str(p.partition)).set(p.frontier.timestamp())
            if p.read_through is not None:
                metrics.READ_THROUGH.labels(p.topic, str(p.partition)).set(
                    p.read_through.timestamp())

    def passed(report: PassReport, seconds: float) -> None:
        metrics.SWEEPER_LAST_PASS.set(time.time())
        metrics.DECIDE_PASS_DURATION.observe(seconds)
        metrics.DECISIONS.labels("record").inc(report.records)
        metrics.DECISIONS.labels("deadline").inc(sum(report.deadlines.values()))
        for rule, count in report.deadlines.items():
            metrics.DEADLINES_FIRED.labels(rule).inc(count)
        for topic, count in report.late.items():
            metrics.LATE_RECORDS.labels(topic).inc(count)
        metrics.SUPERSEDED.inc(report.superseded)

    def leading(_leading: bool) -> None:
        health.database_back()

    def looked(outcome: str) -> None:
        metrics.SWEEPER_LOOKS.labels(outcome).inc()

    for outcome in LOOK_OUTCOMES:
        metrics.SWEEPER_LOOKS.labels(outcome)
    for rule in DEADLINE_RULES:
        metrics.DEADLINES_FIRED.labels(rule)
    for topic in INBOUND_TOPICS:
        metrics.LATE_RECORDS.labels(topic)
    return Sweeper(settings, stop, on_watermark=measured, on_pass=passed,
                   on_leading=leading, on_database_error=health.waiting_for_database,
                   on_tick=health.beat, on_look=looked)


def relay(settings: Settings, stop: threading.Event, health: Health) -> OutboxRelay:
    from relay.outbox import OutboxRelay

    def published(events: list[tuple[str, float]]) -> None:
        for kind, seconds in events:
            metrics.EVENTS_PUBLISHED.labels(kind).inc()
            metrics.RELAY_PUBLISH_LATENCY.observe(seconds)

    def leading(lead: bool) -> None:
        health.database_back()
        metrics.RELAY_LEADER.set(1 if lead else 0)

    def backlog(count: int, age: float) -> None:
        metrics.OUTBOX_BACKLOG.set(count)
        metrics.OUTBOX_OLDEST_AGE.set(age)

    def database_away() -> None:
        metrics.RELAY_LEADER.set(0)
        health.waiting_for_database()

    for kind in CASE_EVENT_TYPES:
        metrics.EVENTS_PUBLISHED.labels(kind)
    return OutboxRelay(settings, stop, on_published=published, on_leading=leading,
                       on_tick=health.beat, on_backlog=backlog,
                       on_database_error=database_away)
