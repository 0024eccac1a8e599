"""`cases status [--json]`: the service at a glance, what /metrics says, from the outside:
per inbound topic its consumer group's lag and what waits to be decided, the watermark
and what holds it, the outbox's backlog, dead letters per DLQ, which processes lead the
relay and the sweeper and when the sweeper last measured the watermark."""

from __future__ import annotations

import json
from typing import Any

from confluent_kafka import KafkaException, TopicPartition

from bootstrap import kafka
from bootstrap.database import connect
from configuration import settings_from_env
from consumers.topics import watermarks
from relay.outbox import RELAY_LOCK_ID
from schemas import INBOUND_TOPICS, dlq_topic
from storage.status import database_status
from sweeper.loop import SWEEPER_LOCK_ID


def kafka_status(settings: Any) -> dict[str, Any]:
    """Per inbound topic: its consumer group, each partition's lag (its end less what the
    group committed) and their sum; and how many dead letters each DLQ keeps."""
    reader = kafka.private_consumer(settings)
    try:
        ends = watermarks(reader, [*INBOUND_TOPICS, *(dlq_topic(t) for t in INBOUND_TOPICS)])
        topics: dict[str, Any] = {}
        for topic in INBOUND_TOPICS:
            group = kafka.private_consumer(settings, kafka.consumer_group(topic))
            try:
                parts = sorted(p for t, p in ends if t == topic)
                committed = {tp.partition: tp.offset for tp in group.committed(
                    [TopicPartition(topic, p) for p in parts], timeout=10)}
            finally:
                group.close()
            lag = {p: ends[topic, p][1] - max(committed.get(p, -1), ends[topic, p][0])
                   for p in parts}
            topics[topic] = {"group": kafka.consumer_group(topic), "lag": sum(lag.values()),
                             "partitions": lag}
        dead = {dlq_topic(t): sum(high - low for (name, _), (low, high) in ends.items()
                                  if name == dlq_topic(t)) for t in INBOUND_TOPICS}
        return {"topics": topics, "dead_letters": dead}
    finally:
        reader.close()


def status(as_json: bool) -> int:
    settings = settings_from_env()
    with connect(settings, "order-cases.cases-status") as conn:
        report = database_status(conn, RELAY_LOCK_ID, SWEEPER_LOCK_ID)
    try:
        report["kafka"] = kafka_status(settings)
    except KafkaException as exc:
        report["kafka"] = {"error": str(exc)}
    print(json.dumps(report, indent=2) if as_json else human(report))
    return 0


def human(report: dict[str, Any]) -> str:
    lines = []
    mark = report["watermark"]
    if mark is None:
        lines.append("watermark: none yet (no sweeper has measured one)")
    else:
        held = f", held by {', '.join(mark['held_by'])}" if mark["held_by"] else ""
        lines.append(f"watermark: {mark['low']} ({mark['delay_seconds']}s behind the wall "
                     f"clock{held}); measured {mark['computed_at']}")
    kafka_part = report.get("kafka", {})
    lines.append(f"{'consumer':<18}{'lag':>8}{'undecided':>11}")
    for topic in INBOUND_TOPICS:
        lag = kafka_part.get("topics", {}).get(topic, {}).get("lag", "?")
        lines.append(f"{topic:<18}{lag!s:>8}{report['undecided'].get(topic, 0):>11}")
    outbox = report["outbox"]
    lines.append(f"outbox: {outbox['events']} case event(s) to publish"
                 + (f", the oldest {outbox['oldest_age_seconds']}s old"
                    if outbox["oldest_age_seconds"] is not None else "")
                 + f"; {outbox['dead_letters']} dead letter(s) to send")
    dead = kafka_part.get("dead_letters")
    if dead:
        lines.append("dead letters: " + ", ".join(f"{t} {n}" for t, n in dead.items()))
    if "error" in kafka_part:
        lines.append(f"Kafka: {kafka_part['error']}")
    for role in ("relay_leader", "sweeper_leader"):
        leader = report[role]
        name = role.split("_")[0]
        lines.append(f"{name}: " + (f"led by pid {leader['pid']} ({leader['application_name']}"
                                    f", {leader['client'] or 'local'}) since {leader['since']}"
                                    if leader else "no leader"))
    return "\n".join(lines)
