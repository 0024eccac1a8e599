"""The first case flow through the real broker and database (`cases run` as a process)."""

from __future__ import annotations

import pytest

from tests.integration.conftest import (
    cases,
    db_events,
    published_events,
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
