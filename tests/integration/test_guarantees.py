"""Duplicates change nothing; bad input goes to the dead-letter topic and the consumer
moves on (docs/contract.md, Guarantees)."""

from __future__ import annotations

import time

import pytest

from consumers.dead_letters import read_headers
from schemas.codec import shared_codec
from tests.integration.conftest import (
    db_events,
    produce,
    produce_raw,
    published_events,
    read_topic,
    wait_for,
    wait_for_db_events,
)
from tests.integration.scenario import Scenario

pytestmark = pytest.mark.integration


def test_records_delivered_twice_change_nothing_and_publish_nothing_twice(
        settings, service, db, order_id):
    s = Scenario(order_id)
    placed, opened, refund = s.placed(total=5000), s.open_case(), s.refund(1000)
    for _ in range(2):
        produce(settings, "orders", [placed[1]])
        produce(settings, "case-actions", [opened[1], opened[1]])
    wait_for_db_events(db, order_id, 1)
    produce(settings, "payments", [refund[1]])
    produce(settings, "payments", [refund[1]])
    events = wait_for_db_events(db, order_id, 2)
    # give the consumers time to process the second copies too
    marker = Scenario(order_id + "-marker")
    produce(settings, "payments", [marker.refund(1)[1]])
    produce(settings, "case-actions", [marker.open_case()[1]])
    produce(settings, "orders", [marker.placed()[1]])
    wait_for_db_events(db, marker.order_id, 1)
    assert [e["type"] for e in db_events(db, order_id)] == ["CaseOpened", "RefundRecorded"]
    assert db_events(db, order_id) == events
    state = db.execute("SELECT state FROM orders WHERE order_id = %s", (order_id,)).fetchone()[0]
    assert [r["amount"] for r in state["refunds"]] == [
        {"amount_minor": 1000, "currency": "EUR"}]
    on_kafka = wait_for(lambda: (p := published_events(settings, order_id)) and len(p) >= 2
                        and p, what="case events on Kafka")
    time.sleep(1)
    on_kafka = published_events(settings, order_id)
    assert len(on_kafka) == len({e["event_id"] for e in on_kafka}) == 2


def test_garbage_goes_to_the_dlq_with_its_headers_and_the_next_record_is_processed(
        settings, service, db, order_id):
    garbage = b"this is not avro " + order_id.encode()
    produce_raw(settings, "orders", order_id.encode(), garbage)
    s = Scenario(order_id)
    produce(settings, "orders", [s.placed()[1]])
    produce(settings, "case-actions", [s.open_case()[1]])
    (opened,) = wait_for_db_events(db, order_id, 1)
    assert opened["type"] == "CaseOpened"

    letters = wait_for(lambda: read_topic(settings, "orders.dlq",
                                          lambda m: m.value() == garbage, decode=False),
                       what="the dead letter")
    (letter,) = letters
    assert letter.key() == order_id.encode()
    headers = read_headers(letter.headers())
    assert headers["kafka_dlt-original-topic"] == "orders"
    assert headers["kafka_dlt-original-consumer-group"] == "order-cases.orders"
    assert isinstance(headers["kafka_dlt-original-offset"], int)
    assert isinstance(headers["kafka_dlt-original-partition"], int)
    assert headers["kafka_dlt-original-timestamp"] > 0
    assert headers["kafka_dlt-exception-fqcn"] == "schemas.codec.DecodeError"
    assert "C3 01" in headers["kafka_dlt-exception-message"]


def test_record_breaking_the_contract_goes_to_the_dlq(settings, service, db, order_id):
    s = Scenario(order_id)
    _, placed = s.placed()
    placed["total"] = {"amount_minor": -5, "currency": "EUR"}
    bad = shared_codec().encode(placed)  # valid Avro, but a negative amount
    produce_raw(settings, "orders", order_id.encode(), bad)
    letters = wait_for(lambda: read_topic(settings, "orders.dlq",
                                          lambda m: m.value() == bad, decode=False),
                       what="the dead letter")
    headers = read_headers(letters[0].headers())
    assert headers["kafka_dlt-exception-message"] == (
        "field total.amount_minor: must not be negative")
