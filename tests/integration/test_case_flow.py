"""The first case flow through the real broker and database (`cases run` as a process)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from confluent_kafka import Producer

from schemas import CASE_EVENTS_TOPIC, record_key
from schemas.codec import shared_codec
from tests.integration import clock
from tests.integration.conftest import (
    cases,
    db_events,
    published_events,
    read_topic,
    send,
    wait_for,
    wait_for_db_events,
    wait_until_known,
    wait_until_stored,
)
from tests.integration.scenario import Scenario

pytestmark = pytest.mark.integration




def test_open_partial_refund_then_full_refund_closes_the_case(settings, env, service, db,
                                                              order_id):
    s = Scenario(order_id)
    send(settings, s.placed(total=5000), s.captured(5000))
    wait_until_known(db, order_id)
    send(settings, s.open_case())
    wait_for_db_events(db, order_id, 1)
    send(settings, s.refund(2000))
    wait_for_db_events(db, order_id, 2)
    full = s.refund(3000, at="2026-03-14T10:00:00Z")  # ahead of the service's watermark
    send(settings, full)
    wait_until_stored(db, full[1]["event_id"])
    assert cases(env, "sweep", "--now", "2026-03-14T11:00:00Z").returncode == 0
    events = wait_for_db_events(db, order_id, 4)
    assert [e["type"] for e in events] == [
        "CaseOpened", "RefundRecorded", "RefundRecorded", "CaseClosed"]
    assert events[1]["full"] is False
    assert events[1]["refunded_total"] == {"amount_minor": 2000, "currency": "EUR"}
    assert events[2]["full"] is True
    assert events[3]["close_reason"] == "full_refund" and events[3]["state"] == "closed"

    on_kafka = wait_for(lambda: (p := published_events(settings, order_id)) and len(p) == 4
                        and p, what="the relay to publish four case events")
    assert [e["event_id"] for e in on_kafka] == [e["event_id"] for e in events]
    assert {e["buyer_id"] for e in on_kafka} == {s.buyer}


def test_refused_action_publishes_action_rejected(settings, service, db, order_id):
    s = Scenario(order_id)
    send(settings, s.placed())
    wait_until_known(db, order_id)
    _, intruder = item = s.open_case(actor="somebody-else")
    send(settings, item)
    (rejected,) = wait_for_db_events(db, order_id, 1)
    assert rejected["type"] == "ActionRejected"
    assert rejected["rejection"] == "not_order_buyer"
    assert rejected["action"] == "OpenCase"
    assert rejected["source_event_id"] == intruder["event_id"]
    wait_for(lambda: published_events(settings, order_id), what="ActionRejected on Kafka")


def test_open_case_before_its_order_is_decided_when_the_order_arrives(
        settings, service, db, order_id):
    s = Scenario(order_id)
    _, action = item = s.open_case()
    send(settings, item)
    wait_for(lambda: db.execute("SELECT jsonb_array_length(state->'held') FROM orders "
                                "WHERE order_id = %s", (order_id,)).fetchone() == (1,),
             what="the OpenCase to be held")
    assert db_events(db, order_id) == []  # nothing decided while the order is unknown
    send(settings, s.placed())
    (opened,) = wait_for_db_events(db, order_id, 1)
    assert opened["type"] == "CaseOpened" and opened["state"] == "open"
    # the history names the OpenCase as the cause, with its own position on its topic
    assert db.execute("SELECT cause_topic, cause_event_id, cause_offset >= 0 FROM case_events "
                      "WHERE order_id = %s", (order_id,)).fetchone() == (
        "case-actions", action["event_id"], True)


def test_one_trace_crosses_the_service_with_its_cause(settings, service, db, order_id):
    """The case event names the record that caused it (event_id, topic, partition and
    offset) and carries that record's W3C trace context; a record without one gives none."""
    s = Scenario(order_id)
    send(settings, s.placed(), s.captured(5000))
    wait_until_known(db, order_id)
    trace = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"
    topic, record = s.open_case()
    written: list[Any] = []
    producer = Producer(settings.kafka())
    producer.produce(topic, key=record_key(topic, record).encode(),
                     value=shared_codec().encode(clock.move_record(record)),
                     headers=[("traceparent", trace.encode()), ("tracestate", b"shop=1")],
                     on_delivery=lambda err, msg: written.append(msg))
    assert producer.flush(30) == 0
    (at,) = written

    def case_events() -> list[Any]:
        return read_topic(settings, CASE_EVENTS_TOPIC, decode=False, match=lambda m:
                          shared_codec().decode(m.value())["order_id"] == order_id)

    (opened,) = wait_for(case_events, what="CaseOpened on case-events")
    event = shared_codec().decode(opened.value())
    headers = dict(opened.headers())
    assert headers["event_type"] == b"CaseOpened" == event["type"].encode()
    assert headers["event_id"] == event["event_id"].encode()
    assert headers["cause_event_id"] == record["event_id"].encode()
    assert (headers["cause_topic"], headers["cause_partition"], headers["cause_offset"]) == (
        b"case-actions", str(at.partition()).encode(), str(at.offset()).encode())
    assert headers["schema_fingerprint"] == opened.value()[2:10].hex().encode()
    assert headers["traceparent"] == trace.encode()
    assert headers["tracestate"] == b"shop=1"

    send(settings, s.refund(2000))  # published without a trace context
    events = wait_for(lambda: (e := case_events()) and len(e) == 2 and e,
                      what="RefundRecorded on case-events")
    untraced = dict(events[1].headers())
    assert untraced["event_type"] == b"RefundRecorded"
    assert "traceparent" not in untraced and "tracestate" not in untraced
