"""What a finished run left behind, read back for the comparison: the inbox, the case
states and the outbox in PostgreSQL (with the decisions a late record superseded), every
record on `case-events`, and how many dead letters there are.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import psycopg
from confluent_kafka import Consumer, KafkaError, TopicPartition

from chaos.offsets import OffsetProbe
from configuration import Settings
from schemas import CASE_EVENTS_TOPIC, INBOUND_TOPICS, dlq_topic
from schemas.codec import shared_codec


@dataclass
class TopicCopy:
    """One record on `case-events`."""

    event_id: str
    key: str
    payload: bytes


@dataclass
class OrderCase:
    """An order's row in `orders`, as far as its case goes, with its outbox rows."""

    case_state: str | None
    #: the case part of the order's state document (None: no case)
    case: dict[str, Any] | None
    #: the order's case_events rows as (event_id, order_id, type), in seq order
    events: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass
class Snapshot:
    inbox: set[str] = field(default_factory=set)
    orders: dict[str, OrderCase] = field(default_factory=dict)
    #: every case_events row's event_id, and its payload (the bytes the relay sends)
    outbox: dict[str, bytes] = field(default_factory=dict)
    #: per order, the outbox's event_ids in seq order: the order the relay must keep
    outbox_order: dict[str, list[str]] = field(default_factory=dict)
    #: every record on case-events, per partition in offset order
    topic: list[TopicCopy] = field(default_factory=list)
    dlq: dict[str, int] = field(default_factory=dict)
    #: the event_ids of DecisionSuperseded events: decisions a late record changed
    superseded: list[str] = field(default_factory=list)


def read_database(database_url: str, snapshot: Snapshot) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        snapshot.inbox = {r[0] for r in conn.execute("SELECT event_id FROM inbox")}
        for order_id, case_state, case in conn.execute(
                "SELECT order_id, case_state, state->'case' FROM orders"):
            snapshot.orders[order_id] = OrderCase(case_state, case)
        by_order: dict[str, list[str]] = defaultdict(list)
        for event_id, order_id, type_, payload in conn.execute(
                "SELECT event_id, order_id, type, payload FROM case_events ORDER BY seq"):
            snapshot.outbox[event_id] = bytes(payload)
            by_order[order_id].append(event_id)
            order = snapshot.orders.setdefault(order_id, OrderCase(None, None))
            order.events.append((event_id, order_id, type_))
            if type_ == "DecisionSuperseded":
                snapshot.superseded.append(event_id)
        snapshot.outbox_order = dict(by_order)


def read_case_events(settings: Settings, probe: OffsetProbe) -> list[TopicCopy]:
    """Every record from the start to the end offsets as they are now."""
    ends = probe.end_offsets(CASE_EVENTS_TOPIC)
    pending = {p for p, end in ends.items() if end > 0}
    consumer = Consumer(settings.kafka(**{
        "group.id": "chaos-snapshot", "enable.auto.commit": False,
        "enable.partition.eof": True}))
    consumer.assign([TopicPartition(CASE_EVENTS_TOPIC, p, 0) for p in pending])
    codec = shared_codec()
    copies: list[TopicCopy] = []
    try:
        while pending:
            for msg in consumer.consume(1000, 1.0):
                error = msg.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        pending.discard(msg.partition())
                        continue
                    raise RuntimeError(f"reading {CASE_EVENTS_TOPIC}: {error}")
                if msg.offset() >= ends[msg.partition()]:
                    pending.discard(msg.partition())
                    continue
                record = codec.decode(msg.value())
                copies.append(TopicCopy(record["event_id"], (msg.key() or b"").decode(),
                                        bytes(msg.value() or b"")))
                if msg.offset() + 1 >= ends[msg.partition()]:
                    pending.discard(msg.partition())
    finally:
        consumer.close()
    return copies


def dead_letter_counts(probe: OffsetProbe) -> dict[str, int]:
    counts = {}
    for topic in INBOUND_TOPICS:
        dlq = dlq_topic(topic)
        starts, ends = probe.start_offsets(dlq), probe.end_offsets(dlq)
        counts[dlq] = sum(end - starts.get(p, 0) for p, end in ends.items())
    return counts


def take(settings: Settings) -> Snapshot:
    snapshot = Snapshot()
    read_database(settings.database_url, snapshot)
    probe = OffsetProbe(settings)
    try:
        snapshot.topic = read_case_events(settings, probe)
        snapshot.dlq = dead_letter_counts(probe)
    finally:
        probe.close()
    return snapshot


def describe(case: OrderCase | None) -> str:
    """One line for a report of a differing order."""
    if case is None:
        return "absent"
    types = [t for _, _, t in case.events]
    return f"state={case.case_state} events={types} case={json.dumps(case.case, sort_keys=True)}"
