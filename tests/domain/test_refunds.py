"""Rule 4: refunds through the marketplace's payments, and when they close a case."""

import datetime as dt

import pytest

from domain.order import InvalidRecord
from domain.records import Money
from tests.builders import captured, open_case, placed, refund, support
from tests.domain.helpers import rejection, run, types

DAY = dt.timedelta(days=1)


def test_partial_refund_records_and_keeps_the_case_open():
    order, events = run(placed(), open_case(), refund(amount=1000))
    assert types(events) == ["CaseOpened", "RefundRecorded"]
    recorded = events[1]
    assert recorded.amount == Money(1000, "EUR")
    assert recorded.refunded_total == Money(1000, "EUR") and recorded.full is False
    assert order.case.state == "open"


def test_refunds_adding_up_to_the_total_close_as_full_refund():
    order, events = run(placed(), open_case(), refund(amount=1000), refund(amount=1599))
    assert types(events) == ["CaseOpened", "RefundRecorded", "RefundRecorded", "CaseClosed"]
    assert events[2].full is True and events[3].close_reason == "full_refund"
    assert events[3].state == "closed" and order.case.state == "closed"


def test_full_refund_is_measured_against_the_captured_amount():
    _, events = run(placed(), captured(amount=2000), open_case(), refund(amount=2000))
    assert types(events)[-1] == "CaseClosed"


def test_without_a_capture_the_order_total_is_the_target():
    _, events = run(placed(), open_case(), refund(amount=2000))
    assert types(events) == ["CaseOpened", "RefundRecorded"]


def test_refund_through_another_provider_never_closes():
    order, events = run(placed(), open_case(), refund(amount=2599, provider="other"))
    assert types(events) == ["CaseOpened"]
    assert order.case.state == "open"


def test_same_refund_counted_once():
    first = refund(amount=1500)
    again = refund(amount=1500, refund_id=first.refund_id)
    order, events = run(placed(), open_case(), first, again)
    assert types(events) == ["CaseOpened", "RefundRecorded"]
    assert order.refunded_total() == Money(1500, "EUR")


def test_capture_arriving_after_refunds_can_complete_them():
    _, events = run(placed(), open_case(), refund(amount=2000), captured(amount=2000))
    assert types(events) == ["CaseOpened", "RefundRecorded", "CaseClosed"]


def test_refund_on_a_closed_case_publishes_nothing():
    _, events = run(placed(), open_case(), refund(amount=2599), refund(amount=1))
    assert types(events) == ["CaseOpened", "RefundRecorded", "CaseClosed"]


def test_refund_in_another_currency_than_the_order_is_invalid_and_changes_nothing():
    order, _ = run(placed(), open_case())
    with pytest.raises(InvalidRecord, match="currency USD differs"):
        run(refund(amount=1, currency="USD"), order=order)
    assert order.marketplace_refunds == [] and order.refund_ids == []


def test_a_refund_after_the_opening_that_arrives_first_closes_the_case_at_its_own_time():
    opening = open_case()
    later = refund(amount=2599, at=opening.occurred_at + dt.timedelta(hours=1))
    _, events = run(placed(), later, opening)
    assert types(events) == ["CaseOpened", "RefundRecorded", "CaseClosed"]
    assert events[2].close_reason == "full_refund"
    assert events[2].occurred_at == later.occurred_at
    assert events[2].cause_id == later.event_id


def test_an_action_between_the_opening_and_an_early_arriving_refund_still_counts():
    opening = open_case()
    escalation = support("escalate", at=opening.occurred_at + DAY)
    later = refund(amount=2599, at=opening.occurred_at + 2 * DAY)
    order, events = run(placed(), later, opening, escalation)
    assert types(events) == ["CaseOpened", "RefundRecorded", "CaseClosed", "CaseEscalated"]
    assert order.case is not None and order.case.state == "closed"
    assert order.case.escalated_by == "platform"  # as if everything had come in time order
    in_time_order, _ = run(placed(), opening, escalation, later)
    assert in_time_order.case == order.case


def test_refund_before_the_opening_makes_it_already_refunded_whatever_the_arrival():
    opening = open_case()
    earlier = refund(amount=2599, at=opening.occurred_at - dt.timedelta(hours=1))
    _, events = run(placed(), earlier, opening)
    assert rejection(events) == "already_refunded"
    # arriving after the opening, the refund re-decides it: the CaseOpened already given
    # out stays given out, and the rejection follows it
    order, events = run(placed(), opening, earlier)
    assert types(events) == ["CaseOpened", "ActionRejected"]
    assert rejection(events[1:]) == "already_refunded" and order.case is None
