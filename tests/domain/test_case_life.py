"""Rules 2, 3, 5 to 10: problem reports, proof of shipping, closing, escalation, late
delivery, support and who may act."""

from __future__ import annotations

import datetime as dt

import pytest

from domain.decision import SellerStanding
from domain.records import Address, Money
from domain.revisions import PublishedDecision, revise
from domain.timeline import redecide
from tests.builders import (
    ELIGIBLE,
    HOME,
    add_tracking,
    captured,
    close_case,
    delivered,
    escalate,
    message,
    open_case,
    placed,
    refund,
    support,
)
from tests.domain.helpers import POLICY, rejection, run, sweep, types

DAY = dt.timedelta(days=1)
OPENED = ELIGIBLE + DAY


# ---- rule 2: problem reports -----------------------------------------------------------

def test_buyer_problem_report_publishes_problem_reported_and_opens_no_case():
    order, events = run(placed(), message())
    assert types(events) == ["ProblemReported"] and order.case is None
    assert events[0].case_id is None and events[0].state is None


def test_plain_messages_and_reports_from_others_publish_nothing():
    _, events = run(placed(), message(kind="message"), message(sender_id="stranger"),
                    message(sender_role="seller", sender_id="s1"))
    assert events == []


@pytest.mark.parametrize("participation", [
    lambda: message(sender_role="seller", sender_id="s1", kind="message",
                    at=OPENED + DAY),
    lambda: add_tracking(at=OPENED + DAY),
    lambda: refund(amount=100, at=OPENED + DAY, initiated_by="seller"),
])
def test_seller_taking_part_in_time_prevents_inactivity_escalation(participation):
    order, _ = run(placed(), open_case(at=OPENED), participation())
    assert order.case.seller_took_part_at == OPENED + DAY
    events = sweep(order, OPENED + 3 * DAY)
    assert "CaseEscalated" not in types(events)


# ---- rule 3: proof of shipping ---------------------------------------------------------

def test_seller_adds_tracking_to_a_live_case():
    _, events = run(placed(), open_case(), add_tracking(proof="shipping_receipt"))
    added = events[-1]
    assert added.type == "TrackingAdded" and added.proof == "shipping_receipt"
    assert (added.carrier, added.tracking_number) == ("dhl", "T1")


def test_only_the_orders_seller_may_add_tracking():
    _, events = run(placed(), open_case(), add_tracking(actor_id="s2"))
    assert rejection(events) == "not_order_seller"
    _, events = run(placed(), open_case(), add_tracking(actor_role="buyer", actor_id="b1"))
    assert rejection(events) == "not_order_seller"


def test_tracking_needs_a_live_case():
    _, events = run(placed(), add_tracking())
    assert rejection(events) == "no_case"
    _, events = run(placed(), open_case(), close_case(), add_tracking(at=OPENED + 2 * DAY))
    assert rejection(events) == "case_closed"


@pytest.mark.parametrize("carrier_first", [True, False])
def test_delivery_to_the_buyer_closes_a_non_delivery_case(carrier_first):
    steps = [delivered(), add_tracking()]
    order, events = run(placed(), open_case(), *(steps if carrier_first else steps[::-1]))
    assert order.case.state == "closed" and order.case.close_reason == "delivered"
    assert types(events)[-1] == "CaseClosed"


def test_delivery_elsewhere_does_not_close():
    elsewhere = Address(**{**HOME.__dict__, "postal_code": "69001"})
    order, _ = run(placed(), open_case(), add_tracking(), delivered(to=elsewhere))
    assert order.case.state == "open"


def test_statuses_other_than_delivered_do_not_close():
    order, _ = run(placed(), open_case(), add_tracking(),
                   delivered(status="in_transit", delivered_to=None))
    assert order.case.state == "open"


def test_tracking_never_closes_a_not_as_described_case():
    order, _ = run(placed(), open_case(reason="not_as_described"), add_tracking(), delivered())
    assert order.case.state == "open"


def test_another_parcels_report_does_not_close_a_case_support_reopened_after_delivery():
    order, _ = run(placed(), open_case(), add_tracking(), delivered(at=OPENED + 2 * DAY))
    assert order.case.state == "closed"
    order, events = run(support("reopen", at=OPENED + 3 * DAY),
                        delivered(at=OPENED + 4 * DAY, tracking_number="T9"), order=order)
    assert types(events) == ["CaseReopened"] and order.case.state == "escalated"


def test_an_older_carrier_status_does_not_replace_a_newer_one():
    newer = delivered(at=OPENED + 2 * DAY, status="returned_to_sender", delivered_to=None)
    older = delivered(at=OPENED + DAY)
    order, _ = run(placed(), open_case(), newer, older, add_tracking(at=OPENED + 3 * DAY))
    assert order.case.state == "open"


# ---- rule 5: buyer closes ----------------------------------------------------------------

def test_buyer_closes_a_live_case():
    _, events = run(placed(), open_case(), close_case())
    assert events[-1].type == "CaseClosed" and events[-1].close_reason == "buyer_closed"


def test_close_needs_the_buyer_and_a_live_case():
    _, events = run(placed(), open_case(), close_case(actor_id="s1", actor_role="seller"))
    assert rejection(events) == "not_order_buyer"
    _, events = run(placed(), close_case())
    assert rejection(events) == "no_case"
    _, events = run(placed(), open_case(), close_case(), close_case())
    assert rejection(events) == "case_closed"


# ---- rule 6: escalation ------------------------------------------------------------------

def test_buyer_escalates_from_three_days_after_opening():
    _, events = run(placed(), open_case(at=OPENED), escalate(at=OPENED + 3 * DAY))
    assert events[-1].type == "CaseEscalated" and events[-1].by == "buyer"
    assert events[-1].state == "escalated"


def test_escalating_earlier_is_too_early():
    _, events = run(placed(), open_case(at=OPENED),
                    escalate(at=OPENED + 3 * DAY - dt.timedelta(seconds=1)))
    assert rejection(events) == "too_early"
    assert events[-1].escalation_available_at == OPENED + 3 * DAY


def test_escalation_needs_the_buyer_and_an_open_case():
    _, events = run(placed(), open_case(), escalate(actor_id="x"))
    assert rejection(events) == "not_order_buyer"
    _, events = run(placed(), escalate())
    assert rejection(events) == "no_case"
    _, events = run(placed(), open_case(at=OPENED), escalate(at=OPENED + 3 * DAY),
                    escalate(at=OPENED + 4 * DAY))
    assert rejection(events) == "case_already_open"


def test_sweeper_announces_escalation_once_after_three_days():
    order, _ = run(placed(), open_case(at=OPENED), add_tracking(at=OPENED + DAY))
    assert sweep(order, OPENED + 3 * DAY - dt.timedelta(seconds=1)) == []
    events = sweep(order, OPENED + 3 * DAY)
    assert types(events) == ["EscalationAvailable"]
    assert events[0].occurred_at == OPENED + 3 * DAY
    assert sweep(order, OPENED + 4 * DAY) == []


# ---- rule 7: early escalation ------------------------------------------------------------

def test_support_escalates_at_any_time_with_a_reason():
    _, events = run(placed(), open_case(at=OPENED),
                    support("escalate", at=OPENED + dt.timedelta(hours=1), reason="harassment"))
    assert events[-1].type == "CaseEscalated"
    assert (events[-1].by, events[-1].reason) == ("platform", "harassment")


def test_sweeper_escalates_for_seller_inactivity_once():
    order, _ = run(placed(), open_case(at=OPENED))
    events = sweep(order, OPENED + 3 * DAY)
    assert types(events) == ["CaseEscalated"]
    assert (events[0].by, events[0].reason) == ("platform", "seller_inactivity")
    assert sweep(order, OPENED + 10 * DAY) == []
    assert order.case.state == "escalated"


def test_a_deadline_that_passed_fires_before_a_later_record_without_waiting_for_a_sweep():
    # the buyer closes a day after the seller's time to respond ended: the inactivity
    # escalation came first, whether or not the sweeper had run by then
    order, events = run(placed(), open_case(at=OPENED), close_case(at=OPENED + 4 * DAY))
    assert types(events) == ["CaseOpened", "CaseEscalated", "CaseClosed"]
    assert events[1].occurred_at == OPENED + 3 * DAY
    assert order.case.escalated_by == "platform" and order.case.state == "closed"


def test_a_record_that_arrives_after_its_time_was_decided_supersedes_what_it_changes():
    placing, opening = placed(), open_case(at=OPENED)
    order, published = run(placing, opening)
    published += sweep(order, OPENED + 5 * DAY)
    assert types(published) == ["CaseOpened", "CaseEscalated"]
    # the seller had answered in time; its message only arrives now: the history is
    # decided again with it in its place, and the difference is what gets published
    late = message(at=OPENED + DAY, sender_id="s1", sender_role="seller", kind="message")
    again, decision = redecide("o1", [placing, opening, late], OPENED + 5 * DAY, POLICY,
                               {"s1": SellerStanding("s1")})
    assert again.case.state == "open" and again.case.seller_took_part_at == late.occurred_at
    stands = {e.decision_key: PublishedDecision(e.event_id, e.type, _content(e))
              for e in published}
    events = revise(again, stands, decision.events, late, _content)
    assert types(events) == ["DecisionSuperseded", "EscalationAvailable"]
    assert events[0].superseded_event_id == published[1].event_id
    assert events[0].late_event_id == late.event_id


def test_a_decision_taken_again_differently_is_published_under_a_new_id():
    placing, opening, part = placed(), open_case(at=OPENED), refund(amount=1000,
                                                                    at=OPENED + DAY)
    _, published = run(placing, opening, part)
    assert [e.full for e in published[1:]] == [False]
    late = captured(amount=1000)  # only 1,000 was captured: that refund was full
    again, decision = redecide("o1", [placing, late, opening, part], OPENED + DAY, POLICY,
                               {})
    stands = {e.decision_key: PublishedDecision(e.event_id, e.type, _content(e))
              for e in published}
    events = revise(again, stands, decision.events, late, _content)
    assert types(events) == ["DecisionSuperseded", "RefundRecorded", "CaseClosed"]
    assert events[0].superseded_event_id == published[1].event_id
    assert events[1].decision_key == published[1].decision_key
    assert events[1].event_id != published[1].event_id and events[1].full is True


def _content(event):
    record = event.to_record()
    record.pop("event_id")
    return repr(sorted(record.items()))


# ---- rule 8: late delivery ---------------------------------------------------------------

def test_case_live_for_365_days_becomes_a_late_delivery_once():
    order, _ = run(placed(), open_case(at=OPENED), add_tracking(at=OPENED + DAY))
    sweep(order, OPENED + 3 * DAY)
    events = sweep(order, OPENED + 365 * DAY)
    assert types(events) == ["LateDelivery"]
    assert sweep(order, OPENED + 400 * DAY) == []


def test_late_delivery_only_closes_by_full_refund():
    order, _ = run(placed(), open_case(at=OPENED), support("escalate", at=OPENED))
    late = OPENED + 365 * DAY
    _, events = run(close_case(at=late), support("close", at=late), order=order)
    assert types(events) == ["ActionRejected", "LateDelivery", "ActionRejected"]
    assert [e.rejection for e in events[::2]] == ["late_delivery_requires_full_refund"] * 2
    _, events = run(refund(amount=2599, at=late + DAY), order=order)
    assert events[-1].type == "CaseClosed" and events[-1].close_reason == "full_refund"


# ---- rule 9: support ---------------------------------------------------------------------

def escalated_order(**placed_kw):
    order, _ = run(placed(**placed_kw), captured(amount=2599), open_case(at=OPENED),
                   support("escalate", at=OPENED))
    return order


def test_refund_and_recoup_asks_for_what_is_not_refunded_yet():
    order = escalated_order()
    _, events = run(refund(amount=599, at=OPENED + DAY), support("refund_and_recoup"),
                    order=order)
    requested = events[-1]
    assert requested.type == "SupportRefundRequested"
    assert requested.amount == Money(2000, "EUR") and requested.recoup_from_seller is True
    _, events = run(refund(amount=2000, initiated_by="support", at=OPENED + 7 * DAY),
                    order=order)
    assert events[-1].close_reason == "full_refund"


def test_no_recoup_when_not_paid_through_the_marketplace():
    order = escalated_order(payment_method="other")
    _, events = run(support("refund_and_recoup"), order=order)
    assert events[-1].recoup_from_seller is False


def test_refund_and_recoup_and_close_need_an_escalated_case():
    for action in ("refund_and_recoup", "close"):
        opening = open_case()  # and support acts before the seller's time to respond ends
        _, events = run(placed(), opening, support(action, at=opening.occurred_at + DAY))
        assert rejection(events) == "not_escalated"
        _, events = run(placed(), support(action))
        assert rejection(events) == "no_case"


def test_support_closes_an_escalated_case():
    _, events = run(support("close"), order=escalated_order())
    assert events[-1].close_reason == "support_closed"


def test_support_reopens_a_closed_case_as_escalated():
    order, _ = run(placed(), open_case(), close_case())
    _, events = run(support("reopen", reason="tracking_investigation"), order=order)
    assert events[-1].type == "CaseReopened" and events[-1].state == "escalated"
    _, events = run(support("reopen"), order=order)
    assert rejection(events) == "case_already_open"


def test_suspension_and_reinstatement_eligibility():
    seller = SellerStanding("s1")
    order, events = run(placed(), open_case(), support("suspend_seller",
                        reason="seller_inactivity"), seller=seller)
    assert events[-1].type == "SellerSuspended" and seller.suspended
    _, events = run(close_case(at=OPENED + 7 * DAY), order=order, seller=seller)
    assert types(events) == ["CaseClosed", "SellerReinstatementEligible"]
    assert seller.suspended  # never reinstated by itself
    _, events = run(support("reinstate_seller", reason="resolved", at=OPENED + 8 * DAY),
                    order=order, seller=seller)
    assert events[-1].type == "SellerReinstated" and not seller.suspended


def test_reinstating_a_seller_who_is_not_suspended_is_refused():
    _, events = run(placed(), support("reinstate_seller"))
    assert rejection(events) == "seller_not_suspended"


# ---- rule 10: who may act ----------------------------------------------------------------

@pytest.mark.parametrize("action", ["escalate", "refund_and_recoup", "close", "reopen",
                                    "suspend_seller", "reinstate_seller"])
@pytest.mark.parametrize("role", ["buyer", "seller"])
def test_support_actions_only_from_support(action, role):
    opening = open_case()
    _, events = run(placed(), opening, support(action, actor_role=role, actor_id="b1",
                                               at=opening.occurred_at + dt.timedelta(hours=1)))
    assert rejection(events) == "not_support"
    assert types(events) == ["CaseOpened", "ActionRejected"]
