"""Name-based ids are uuid5's, and a case event's ids do not change once asked."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

from domain.case_events import EVENT_ID_NAMESPACE, EscalationAvailable
from domain.ids import name_based_id
from domain.order import CASE_ID_NAMESPACE

NAMES = ["", "ord-1", "ord-1/7ad82904-614f-4510-be82-c51476b82caf/CaseOpened",
         "Bestellung-Müller/€/中文/🙂", "x" * 1000]


def test_the_ids_are_uuid5s() -> None:
    for namespace in (EVENT_ID_NAMESPACE, CASE_ID_NAMESPACE, uuid.NAMESPACE_DNS):
        for name in NAMES + [f"order-{n}" for n in range(2000)]:
            assert name_based_id(namespace, name) == str(uuid.uuid5(namespace, name))


def test_an_event_keeps_its_ids_and_a_revision_gets_its_own() -> None:
    event = EscalationAvailable(
        occurred_at=dt.datetime(2026, 3, 2, tzinfo=dt.UTC), order_id="ord-1",
        case_id="c", buyer_id="b", seller_id="s", state="open", cause_id="deadline-1",
        rule="rule-6 escalation available")
    key = str(uuid.uuid5(EVENT_ID_NAMESPACE, "ord-1/deadline-1/EscalationAvailable"))
    assert event.decision_key == key and event.event_id == key
    revised = dataclasses.replace(event, revision="late-1")
    assert revised.decision_key == key
    assert revised.event_id == str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{key}/late-1"))
    assert event.event_id == key  # the cached id is the instance's own
    assert revised != event and dataclasses.replace(revised, revision="") == event
