"""Rule 10, who may act, for every action type and every kind of support action, end to
end: impostors' actions go through Kafka and the running service, each publishes
ActionRejected on `case-events` with its code and changes nothing, and the rightful
actor's same action, sent after them, is then accepted.

(test_policy_end_to_end.py shows each of the three codes once; this covers each action.)
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from schemas import CASE_EVENTS_TOPIC
from tests.integration.conftest import (
    cases,
    read_topic,
    send,
    wait_for,
    wait_until_known,
    wait_until_stored,
)
from tests.integration.scenario import Scenario

pytestmark = pytest.mark.integration

OPENED_AT = "2026-03-12T09:00:00Z"
# three days after the opening: the first moment a buyer may escalate, and the seller's
# deadline to respond; a record at a deadline is decided before the deadline fires, so
# the platform's inactivity escalation does not come in between. It lies ahead of the
# service's watermark (tests/integration/clock.py): a sweep decides up to it.
LATER = "2026-03-15T09:00:00Z"
#: the time rules that fire at LATER, after the actions there (not what is tested)
TIME_RULES = ("EscalationAvailable", "LateDelivery")

Record = tuple[str, dict[str, Any]]


@dataclass
class Attempt:
    """One action type: the scene it needs, who may not do it, and what the rightful
    actor's same action publishes."""

    name: str
    code: str
    scene: list[str]  # the case events the scene publishes, in order
    accepted: str  # the event the rightful actor's action publishes


# (actor, role) pairs naming the order's own parties by role: "buyer", "seller"
BUYER_IMPOSTORS = [("stranger", "buyer"), ("seller", "buyer"), ("seller", "seller"),
                   ("agent-7", "support")]
SELLER_IMPOSTORS = [("stranger", "seller"), ("buyer", "seller"), ("buyer", "buyer"),
                    ("agent-7", "support")]
SUPPORT_IMPOSTORS = [("buyer", "buyer"), ("seller", "seller"), ("agent-7", "buyer")]

ATTEMPTS = [
    Attempt("OpenCase", "not_order_buyer", [], "CaseOpened"),
    Attempt("AddTracking", "not_order_seller", ["CaseOpened"], "TrackingAdded"),
    Attempt("EscalateCase", "not_order_buyer", ["CaseOpened"], "CaseEscalated"),
    Attempt("CloseCase", "not_order_buyer", ["CaseOpened"], "CaseClosed"),
    Attempt("SupportAction escalate", "not_support", ["CaseOpened"], "CaseEscalated"),
    Attempt("SupportAction refund_and_recoup", "not_support", ["CaseOpened", "CaseEscalated"],
            "SupportRefundRequested"),
    Attempt("SupportAction close", "not_support", ["CaseOpened", "CaseEscalated"],
            "CaseClosed"),
    Attempt("SupportAction reopen", "not_support", ["CaseOpened", "CaseClosed"],
            "CaseReopened"),
    Attempt("SupportAction suspend_seller", "not_support", [], "SellerSuspended"),
    Attempt("SupportAction reinstate_seller", "not_support", ["SellerSuspended"],
            "SellerReinstated"),
]


def _scene(s: Scenario, name: str) -> list[Record]:
    opened = s.open_case(at=OPENED_AT)
    escalated = s.support("escalate", reason="harassment", at=OPENED_AT)
    return {
        "OpenCase": [],
        "AddTracking": [opened],
        "EscalateCase": [opened],
        "CloseCase": [opened],
        "SupportAction escalate": [opened],
        "SupportAction refund_and_recoup": [opened, escalated],
        "SupportAction close": [opened, escalated],
        "SupportAction reopen": [opened, s.close_case(at=OPENED_AT)],
        "SupportAction suspend_seller": [],
        "SupportAction reinstate_seller": [s.support("suspend_seller", reason="integrity",
                                                     at=OPENED_AT)],
    }[name]


def _action(s: Scenario, name: str, actor: str, role: str) -> Record:
    who = {"buyer": s.buyer, "seller": s.seller}.get(actor, actor)
    if name == "OpenCase":
        _, record = s.open_case(actor=who, at=LATER)
        return "case-actions", {**record, "actor_role": role}
    if name == "AddTracking":
        return s.action("AddTracking", actor=who, role=role, at=LATER, carrier="laposte",
                        tracking_number=f"LP-{s.order_id}", proof="tracking")
    if name in ("EscalateCase", "CloseCase"):
        return s.action(name, actor=who, role=role, at=LATER)
    kind = name.split()[1]
    return s.action("SupportAction", actor=who, role=role, at=LATER, action=kind,
                    reason="integrity")


def _impostors(name: str) -> list[tuple[str, str]]:
    if name.startswith("SupportAction"):
        return SUPPORT_IMPOSTORS
    return SELLER_IMPOSTORS if name == "AddTracking" else BUYER_IMPOSTORS


def _rightful(name: str) -> tuple[str, str]:
    if name.startswith("SupportAction"):
        return "agent-7", "support"
    return ("seller", "seller") if name == "AddTracking" else ("buyer", "buyer")


@dataclass
class Sent:
    scenario: Scenario
    impostors: list[dict[str, Any]]
    rightful: dict[str, Any]


@pytest.fixture(scope="module")
def db_module(settings) -> Iterator[psycopg.Connection]:
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def sent(settings, env, service, db_module) -> dict[str, tuple[Sent, list[dict[str, Any]]]]:
    """Every attempt's records, produced at once; then its case events, read from Kafka."""
    base = f"who-{uuid.uuid4().hex[:8]}"
    scenarios = {a.name: Scenario(f"{base}-{n}") for n, a in enumerate(ATTEMPTS)}
    send(settings, *(s.placed() for s in scenarios.values()))
    for s in scenarios.values():
        wait_until_known(db_module, s.order_id)
    runs: dict[str, Sent] = {}
    records: list[Record] = []
    for attempt in ATTEMPTS:
        s = scenarios[attempt.name]
        impostors = [_action(s, attempt.name, *who) for who in _impostors(attempt.name)]
        rightful = _action(s, attempt.name, *_rightful(attempt.name))
        records += _scene(s, attempt.name) + impostors + [rightful]
        runs[attempt.name] = Sent(s, [r for _, r in impostors], rightful[1])
    send(settings, *records)
    for run in runs.values():
        wait_until_stored(db_module, run.rightful["event_id"])
    swept = cases(env, "sweep", "--now", LATER)
    assert swept.returncode == 0, swept.stderr

    expected = {runs[a.name].scenario.order_id: len(a.scene) + len(runs[a.name].impostors) + 1
                for a in ATTEMPTS}

    def published() -> dict[str, list[dict[str, Any]]] | None:
        events = read_topic(settings, CASE_EVENTS_TOPIC,
                            lambda r: r.get("order_id", "").startswith(base))
        by_order: dict[str, list[dict[str, Any]]] = {}
        for event in events:
            if event["type"] not in TIME_RULES and not (
                    event["type"] == "CaseEscalated" and event["reason"] == "seller_inactivity"):
                by_order.setdefault(event["order_id"], []).append(event)
        done = all(len(by_order.get(o, [])) >= n for o, n in expected.items())
        return by_order if done else None

    by_order = wait_for(published, timeout=90, what="every attempt's case events on Kafka")
    return {name: (run, by_order[run.scenario.order_id]) for name, run in runs.items()}


@pytest.mark.parametrize("attempt", ATTEMPTS, ids=[a.name for a in ATTEMPTS])
def test_an_action_from_the_wrong_actor_is_rejected_and_changes_nothing(sent, attempt):
    run, events = sent[attempt.name]
    scene, rest = events[:len(attempt.scene)], events[len(attempt.scene):]
    assert [e["type"] for e in scene] == attempt.scene
    state_before = scene[-1]["state"] if scene else None

    rejected, after = rest[:len(run.impostors)], rest[len(run.impostors):]
    assert len(rejected) == len(run.impostors)
    for event, impostor in zip(rejected, run.impostors, strict=True):
        assert event["type"] == "ActionRejected", event
        assert event["action"] == impostor["type"]
        assert event["rejection"] == attempt.code
        assert event["source_event_id"] == impostor["event_id"]
        assert event["state"] == state_before  # the refusal changed nothing

    # the same action from the one who may take it is then accepted, as if the
    # impostors had never acted
    assert [e["type"] for e in after] == [attempt.accepted]
    if attempt.accepted in ("CaseEscalated", "CaseClosed"):
        by = {"EscalateCase": ("by", "buyer"), "SupportAction escalate": ("by", "platform"),
              "CloseCase": ("close_reason", "buyer_closed"),
              "SupportAction close": ("close_reason", "support_closed")}[attempt.name]
        assert after[0][by[0]] == by[1]
