"""Rule 4: refunds through the marketplace's payments, and when they close a case."""

import datetime as dt

import pytest

from domain.order import InvalidRecord
from domain.records import Money
from tests.builders import captured, open_case, placed, refund
from tests.domain.helpers import rejection, run, types


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


def test_refunds_after_the_opening_that_arrive_first_close_the_case_on_opening():
    opening = open_case()
    later = refund(amount=2599, at=opening.occurred_at + dt.timedelta(hours=1))
    _, events = run(placed(), later, opening)
    assert types(events) == ["CaseOpened", "CaseClosed"]
    assert events[1].close_reason == "full_refund"


def test_refund_before_the_opening_makes_it_already_refunded_whatever_the_arrival():
    opening = open_case()
    earlier = refund(amount=2599, at=opening.occurred_at - dt.timedelta(hours=1))
    _, events = run(placed(), opening, earlier)
    assert types(events) == ["CaseOpened", "RefundRecorded", "CaseClosed"]
    _, events = run(placed(), earlier, opening)
    assert rejection(events) == "already_refunded"
