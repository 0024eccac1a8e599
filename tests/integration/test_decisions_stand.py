"""Decisions stand, on the real broker and database with the service's own watermark:
records of the moment (within the allowed lateness), a consumer stopped across a
deadline, and a record from the future."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any

import psycopg
import pytest

from schemas.json_form import from_json
from tests.integration.conftest import (
    produce,
    published_events,
    read_topic,
    wait_for,
)
from tests.integration.scenario import ADDRESS
from tests.integration.test_outages import Stack, stack  # noqa: F401  (the fixture)

pytestmark = pytest.mark.integration

#: a service deciding records of the moment: two seconds of allowed lateness, and a
#: seller who has eight seconds to take part (the buyer, to escalate)
FRESH = {"CASES_ALLOWED_LATENESS": "2s", "CASES_POLICY_ESCALATION_AFTER": "8s",
         "CASES_POLICY_SELLER_RESPONSE_TIME": "8s"}
ALLOWED_LATENESS = dt.timedelta(seconds=2)
RESPONSE_TIME = dt.timedelta(seconds=8)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(at: dt.datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _record(topic: str, **fields: Any) -> dict[str, Any]:
    return from_json(topic, {"event_id": str(uuid.uuid4()), "occurred_at": _iso(_now()),
                             **fields})


def _placed(order_id: str) -> dict[str, Any]:
    yesterday = (_now() - dt.timedelta(days=1)).date().isoformat()
    return _record("orders", type="OrderPlaced", order_id=order_id, buyer_id="buyer",
                   seller_id="seller", total={"amount_minor": 5000, "currency": "EUR"},
                   payment_method="aliberber_payments", shipping_address=ADDRESS,
                   estimated_delivery=yesterday)


def _types(db: psycopg.Connection, order_id: str) -> list[str]:
    return [r[0] for r in db.execute(
        "SELECT type FROM case_events WHERE order_id = %s ORDER BY seq", (order_id,))]


@pytest.mark.slow
def test_a_consumer_stopped_across_a_deadline_holds_the_decision_until_it_has_read(
        stack: Stack) -> None:  # noqa: F811
    """The seller answers a second after the opening while the `messages` consumer is
    down; the deadline passes meanwhile. No inactivity escalation is ever published:
    the watermark waits for `messages`, then escalation becomes available."""
    settings = stack.settings
    components = {name: stack.start(name, **FRESH)
                  for name in ("orders", "messages", "carrier-tracking", "payments",
                               "case-actions", "relay", "sweeper")}
    db = psycopg.connect(settings.database_url, autocommit=True)
    order_id = f"fresh-{uuid.uuid4().hex[:8]}"
    produce(settings, "orders", [_placed(order_id)], move=False)
    produce(settings, "case-actions", [_record(
        "case-actions", type="OpenCase", order_id=order_id, actor_id="buyer",
        actor_role="buyer", reason="non_delivery", description="Not here.")], move=False)
    wait_for(lambda: _types(db, order_id) == ["CaseOpened"], 30, "the case to open")
    opened_at = db.execute("SELECT (state->'case'->>'opened_at')::timestamptz FROM orders "
                           "WHERE order_id = %s", (order_id,)).fetchone()[0]

    components["messages"].stop()
    answer = _record("messages", type="MessageSent", order_id=order_id, sender_id="seller",
                     sender_role="seller", kind="message", body="Shipped on Monday.")
    produce(settings, "messages", [answer], move=False)
    # the deadline passes, and the allowed lateness after it, with the answer unread
    deadline = opened_at + RESPONSE_TIME
    time.sleep(max(0.0, (deadline + ALLOWED_LATENESS - _now()).total_seconds()) + 3)
    assert _types(db, order_id) == ["CaseOpened"]
    held_by = db.execute("SELECT held_by FROM watermark").fetchone()[0]
    assert any(topic == "messages" for topic, _ in held_by), held_by

    stack.start("messages", "messages-again", **FRESH)
    wait_for(lambda: "EscalationAvailable" in _types(db, order_id), 30,
             "escalation to become available")
    time.sleep(2)  # a pass or more after it
    assert _types(db, order_id) == ["CaseOpened", "EscalationAvailable"]
    on_kafka = wait_for(lambda: (e := published_events(settings, order_id)) and len(e) == 2
                        and e, 30, "both events on case-events")
    assert [e["type"] for e in on_kafka] == ["CaseOpened", "EscalationAvailable"]
    db.close()


def test_a_record_dated_in_the_future_is_a_dead_letter_and_moves_no_deadline(
        settings, service, db):
    order_id = f"future-{uuid.uuid4().hex[:8]}"
    from_2099 = {**_record("case-actions", type="EscalateCase", order_id=order_id,
                           actor_id="impostor", actor_role="buyer"),
                 "occurred_at": dt.datetime(2099, 1, 1, tzinfo=dt.UTC)}
    before = dt.datetime.now(dt.UTC)
    produce(settings, "case-actions", [from_2099], move=False)
    letters = wait_for(lambda: read_topic(
        settings, "case-actions.dlq", lambda m: m.key() == order_id.encode(), decode=False),
        what="the dead letter")
    headers = dict(letters[0].headers())
    assert headers["kafka_dlt-exception-fqcn"] == b"consumers.batch.FutureRecord"
    assert b"occurred_at 2099-01-01T00:00:00+00:00 is after the record reached Kafka" in (
        headers["kafka_dlt-exception-message"])
    time.sleep(1)  # passes of the sweeper after it
    low = db.execute("SELECT low FROM watermark").fetchone()[0]
    assert low is not None and low <= before  # behind the wall clock, as ever
    assert db.execute("SELECT count(*) FROM order_records WHERE order_id = %s",
                      (order_id,)).fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM case_events WHERE order_id = %s",
                      (order_id,)).fetchone()[0] == 0
