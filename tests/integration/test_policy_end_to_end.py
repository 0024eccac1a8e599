"""Rules 2 to 10 and every rejection code, end to end: records published to Kafka, the
service running as `cases run`; time rules, and records after them, driven with
`cases sweep --now` (the service's watermark stays behind them: tests/integration/
clock.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.integration import clock
from tests.integration.conftest import cases as run_cases
from tests.integration.conftest import (
    db_events,
    send,
    wait_for,
    wait_for_db_events,
    wait_until_known,
    wait_until_stored,
)
from tests.integration.scenario import Scenario

pytestmark = pytest.mark.integration






def cases(env, *args):
    result = run_cases(env, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_problem_report_publishes_problem_reported(settings, service, db, order_id):
    s = Scenario(order_id)
    send(settings, s.placed())
    wait_until_known(db, order_id)
    send(settings, s.message(), s.message(kind="message"))
    (reported,) = wait_for_db_events(db, order_id, 1)
    assert reported["type"] == "ProblemReported" and reported["case_id"] is None


@pytest.mark.parametrize("carrier_first", [True, False])
def test_delivery_to_the_buyer_closes_the_case_whichever_arrives_first(
        settings, service, db, order_id, carrier_first):
    s = Scenario(order_id)
    send(settings, s.placed())
    wait_until_known(db, order_id)
    send(settings, s.open_case())
    wait_for_db_events(db, order_id, 1)
    if carrier_first:
        send(settings, s.delivered())
        wait_for(lambda: db.execute("SELECT 1 FROM parcel_reports WHERE carrier = 'laposte' "
                                    "AND tracking_number = %s", (f"LP-{order_id}",)
                                    ).fetchone(), what="the carrier report")
        send(settings, s.add_tracking())
    else:
        send(settings, s.add_tracking())
        wait_for_db_events(db, order_id, 2)
        send(settings, s.delivered())
    events = wait_for_db_events(db, order_id, 3)
    assert [e["type"] for e in events] == ["CaseOpened", "TrackingAdded", "CaseClosed"]
    assert events[-1]["close_reason"] == "delivered"


def test_time_rules_fire_once_driven_by_cases_sweep(settings, env, service, db, order_id):
    s = Scenario(order_id)
    send(settings, s.placed())
    wait_until_known(db, order_id)
    send(settings, s.open_case(at="2026-03-12T09:00:00Z"))
    wait_for_db_events(db, order_id, 1)
    cases(env, "sweep", "--now", "2026-03-15T08:59:59Z")
    assert len(db_events(db, order_id)) == 1
    for _ in range(2):  # a second sweep of the same moment fires nothing again
        cases(env, "sweep", "--now", "2026-03-15T09:00:00Z")
    events = db_events(db, order_id)
    assert [e["type"] for e in events] == ["CaseOpened", "CaseEscalated"]
    assert (events[1]["by"], events[1]["reason"]) == ("platform", "seller_inactivity")
    cases(env, "sweep", "--now", "2027-03-12T09:00:00Z")
    cases(env, "sweep", "--now", "2027-06-01T00:00:00Z")
    assert [e["type"] for e in db_events(db, order_id)][2:] == ["LateDelivery"]


def test_escalation_available_when_the_seller_took_part(settings, env, service, db, order_id):
    s = Scenario(order_id)
    send(settings, s.placed())
    wait_until_known(db, order_id)
    send(settings, s.open_case(at="2026-03-12T09:00:00Z"))
    wait_for_db_events(db, order_id, 1)
    send(settings, s.message(kind="message", role="seller", at="2026-03-13T09:00:00Z"))
    wait_for(lambda: db.execute("SELECT state->'case'->>'seller_took_part_at' FROM orders "
                                "WHERE order_id = %s", (order_id,)).fetchone()[0],
             what="the seller's message")
    cases(env, "sweep", "--now", "2026-03-16T00:00:00Z")
    assert [e["type"] for e in db_events(db, order_id)] == ["CaseOpened", "EscalationAvailable"]
    escalation = s.action("EscalateCase", at="2026-03-16T10:00:00Z")
    send(settings, escalation)
    wait_until_stored(db, escalation[1]["event_id"])
    cases(env, "sweep", "--now", "2026-03-16T11:00:00Z")
    events = wait_for_db_events(db, order_id, 3)
    assert events[2]["type"] == "CaseEscalated" and events[2]["by"] == "buyer"


def test_support_refund_flow_and_its_history(settings, env, service, db, order_id):
    s = Scenario(order_id)
    send(settings, s.placed(total=5000), s.captured(5000))
    wait_until_known(db, order_id)
    # the seller answers in time, so the buyer's escalation is theirs, not the platform's
    send(settings, s.open_case(at="2026-03-12T09:00:00Z"),
         s.message("message", "seller", at="2026-03-13T09:00:00Z"))
    wait_for(lambda: db.execute(
        "SELECT state->'case'->>'seller_took_part_at' FROM orders WHERE order_id = %s",
        (order_id,)).fetchone()[0], what="the seller's answer")
    later = [s.action("EscalateCase", at="2026-03-15T10:00:00Z"),
             s.support("refund_and_recoup", at="2026-03-16T10:00:00Z")]
    send(settings, *later)
    for _, record in later:
        wait_until_stored(db, record["event_id"])
    cases(env, "sweep", "--now", "2026-03-16T11:00:00Z")
    events = wait_for_db_events(db, order_id, 4)
    assert [e["type"] for e in events] == ["CaseOpened", "EscalationAvailable",
                                           "CaseEscalated", "SupportRefundRequested"]
    assert events[3]["amount"] == {"amount_minor": 5000, "currency": "EUR"}
    assert events[3]["recoup_from_seller"] is True
    _, refund = s.refund(5000, at="2026-03-17T10:00:00Z")
    refund["initiated_by"] = "support"
    send(settings, ("payments", refund))
    wait_until_stored(db, refund["event_id"])
    cases(env, "sweep", "--now", "2026-03-17T11:00:00Z")
    events = wait_for_db_events(db, order_id, 6)
    assert [e["type"] for e in events][4:] == ["RefundRecorded", "CaseClosed"]

    shown = cases(env, "show", order_id)
    for step in ("CaseOpened", "CaseEscalated", "SupportRefundRequested", "RefundRecorded",
                 "CaseClosed", "rule-6 escalation", "rule-9 support refund_and_recoup",
                 "rule-4 full refund", "payments[", "case-actions["):
        assert step in shown, step
    assert "CLOSED (full_refund)" in shown


def test_seller_suspension_and_reinstatement(settings, env, service, db, order_id):
    s = Scenario(order_id)
    send(settings, s.placed())
    wait_until_known(db, order_id)
    reinstated = s.support("reinstate_seller", reason="resolved", at="2026-03-15T09:00:00Z")
    send(settings, s.open_case(), s.support("suspend_seller", reason="seller_inactivity"),
         s.close_case(at="2026-03-14T09:00:00Z"), reinstated)
    wait_until_stored(db, reinstated[1]["event_id"])
    cases(env, "sweep", "--now", "2026-03-15T10:00:00Z")
    events = wait_for_db_events(db, order_id, 5)
    assert [e["type"] for e in events] == ["CaseOpened", "SellerSuspended", "CaseClosed",
                                           "SellerReinstatementEligible", "SellerReinstated"]


def _rejection_cases(s: Scenario):
    """For each rejection code: records that set the scene, then the refused action."""
    opened = s.open_case(at="2026-03-12T09:00:00Z")
    return {
        "not_order_buyer": [s.open_case(actor="stranger")],
        "not_order_seller": [opened, s.action("AddTracking", role="seller", actor="stranger",
                                              carrier="x", tracking_number="1",
                                              proof="tracking")],
        "not_support": [opened, s.action("SupportAction", role="buyer", action="close",
                                         reason="x")],
        "not_eligible_yet": [s.open_case(at="2026-03-05T09:00:00Z")],
        # placed with a delivery estimate so long ago that its window has closed
        "window_expired": [s.placed(total=5000, at="2025-10-01T10:00:00Z",
                                    estimated_delivery="2025-10-20"), opened],
        "already_refunded": [s.refund(5000, at="2026-03-11T09:00:00Z"), opened],
        "case_already_open": [opened, s.open_case(at="2026-03-13T09:00:00Z")],
        "case_closed": [opened, s.close_case(), s.close_case(at="2026-03-14T09:00:00Z")],
        "no_case": [s.close_case()],
        "too_early": [opened, s.action("EscalateCase", at="2026-03-13T09:00:00Z")],
        "not_escalated": [opened, s.support("close")],
        # a case opened a year and more before the buyer tries to close it
        "late_delivery_requires_full_refund": [
            s.placed(total=5000, at="2025-02-01T10:00:00Z", estimated_delivery="2025-02-20"),
            s.open_case(at="2025-03-01T09:00:00Z"), s.close_case(at="2026-03-12T09:00:00Z")],
        "seller_not_suspended": [s.support("reinstate_seller")],
        "order_cancelled": [("orders", s._record("orders", {
            "type": "OrderCancelled", "occurred_at": "2026-03-02T09:00:00Z",
            "order_id": s.order_id})[1]), opened],
    }


REJECTIONS = sorted(_rejection_cases(Scenario("x")))
#: the codes whose scene places the order itself (at another time)
PLACED_THEIR_OWN = ("window_expired", "late_delivery_requires_full_refund")


def test_every_rejection_code_end_to_end(settings, env, service, db, order_id):
    orders = {code: Scenario(f"{order_id}-{code}") for code in REJECTIONS}
    send(settings, *(s.placed(total=5000) for code, s in orders.items()
                     if code not in PLACED_THEIR_OWN))
    for code, s in orders.items():
        if code not in PLACED_THEIR_OWN:
            wait_until_known(db, s.order_id)
    scenes = {code: _rejection_cases(s)[code] for code, s in orders.items()}
    for scene in scenes.values():
        send(settings, *scene)
    held = Scenario(f"{order_id}-unknown")
    send(settings, held.open_case(at="2026-03-12T09:00:00Z"))
    wait_for(lambda: db.execute("SELECT 1 FROM orders WHERE order_id = %s",
                                (held.order_id,)).fetchone(), what="the held OpenCase")
    for scene in scenes.values():
        wait_until_stored(db, scene[-1][1]["event_id"])
    # past the latest refused action (a close on the 14th) and the held one's hold
    cases(env, "sweep", "--now", "2026-03-15T10:00:00Z")
    for code, s in {**orders, "unknown_order": held}.items():
        events = wait_for(lambda s=s: [e for e in db_events(db, s.order_id)
                                       if e["type"] == "ActionRejected"],
                          what=f"the {code} rejection")
        assert events[-1]["rejection"] == code, (code, events)


def test_support_escalates_early_closes_and_reopens(settings, env, service, db, order_id):
    s = Scenario(order_id)
    send(settings, s.placed())
    wait_until_known(db, order_id)
    reopened = s.support("reopen", reason="tracking_investigation", at="2026-03-14T10:00:00Z")
    send(settings, s.open_case(at="2026-03-12T09:00:00Z"),
         s.support("escalate", reason="harassment", at="2026-03-12T10:00:00Z"),
         s.support("close", at="2026-03-13T10:00:00Z"), reopened)
    wait_until_stored(db, reopened[1]["event_id"])
    cases(env, "sweep", "--now", "2026-03-14T11:00:00Z")
    events = wait_for_db_events(db, order_id, 4)
    assert [(e["type"], e["state"]) for e in events] == [
        ("CaseOpened", "open"), ("CaseEscalated", "escalated"), ("CaseClosed", "closed"),
        ("CaseReopened", "escalated")]
    assert (events[1]["by"], events[1]["reason"]) == ("platform", "harassment")
    assert events[2]["close_reason"] == "support_closed"


def test_two_sweepers_at_once_fire_each_rule_once(settings, env, service, db, order_id):
    lives = [Scenario(f"{order_id}-{n}") for n in range(30)]
    send(settings, *(s.placed() for s in lives))
    for s in lives:
        wait_until_known(db, s.order_id)
    send(settings, *(s.open_case(at="2026-03-12T09:00:00Z") for s in lives))
    for s in lives:
        wait_for_db_events(db, s.order_id, 1)
    sweepers = [subprocess.Popen([sys.executable, "-m", "cases_cli.main", "sweep", "--now",
                                  clock.moved("2026-03-15T09:00:00Z")], env=env,
                                 stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for sweeper in sweepers:
        _, err = sweeper.communicate(timeout=120)
        assert sweeper.returncode == 0, err
    for s in lives:
        assert [e["type"] for e in db_events(db, s.order_id)] == ["CaseOpened", "CaseEscalated"]
