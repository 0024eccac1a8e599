"""Rule 4: refunds through the marketplace's payments, and when they close a case."""

import datetime as dt

from domain.order import Order
from domain.records import Money, PaymentCaptured
from domain.timeline import advance
from tests.builders import T0, captured, open_case, placed, refund
from tests.domain.helpers import POLICY, rejection, run, types

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


def test_refund_in_another_currency_than_the_order_is_bad_input_and_changes_nothing():
    order, _ = run(placed(), open_case())
    usd = refund(amount=1, currency="USD")
    decision = advance(order, [usd], usd.occurred_at, POLICY, {})
    assert decision.invalid == [(usd.event_id, "currency USD differs from the order's EUR")]
    assert decision.events == [] and order.refunds == []


def test_money_before_the_order_is_known_is_checked_when_it_is_placed():
    wrong = PaymentCaptured(event_id="pay-usd", occurred_at=T0 - DAY, order_id="o1",
                            payment_id="p-usd", amount=Money(100, "USD"),
                            provider="aliberber_payments")
    order = Order("o1")
    placing = placed()
    decision = advance(order, [wrong, placing], placing.occurred_at, POLICY, {})
    assert decision.invalid == [("pay-usd", "currency USD differs from the order's EUR")]
    assert order.payments == []


def test_captures_beyond_the_order_total_are_bad_input():
    order, _ = run(placed(), captured(amount=2000))
    more = captured(amount=600)
    decision = advance(order, [more], more.occurred_at, POLICY, {})
    assert decision.invalid == [(more.event_id, "captures would reach 2600 EUR, more than "
                                                "the order's total of 2599")]
    assert order.paid() == 2000


def test_refunds_beyond_what_was_captured_are_bad_input_and_close_nothing():
    order, _ = run(placed(), captured(amount=2000), open_case())
    too_much = refund(amount=20_000)
    decision = advance(order, [too_much], too_much.occurred_at, POLICY, {})
    assert decision.invalid == [(too_much.event_id, "refunds would reach 20000 EUR, more "
                                                    "than the 2000 captured")]
    assert decision.events == [] and order.case.state == "open"


def test_without_a_capture_refunds_are_bounded_by_the_order_total():
    order, _ = run(placed(), open_case())
    too_much = refund(amount=2600)
    decision = advance(order, [too_much], too_much.occurred_at, POLICY, {})
    assert decision.invalid[0][1] == ("refunds would reach 2600 EUR, more than the 2599 of "
                                      "the order's total")


def test_refund_before_the_opening_makes_it_already_refunded():
    opening = open_case()
    earlier = refund(amount=2599, at=opening.occurred_at - dt.timedelta(hours=1))
    _, events = run(placed(), earlier, opening)
    assert rejection(events) == "already_refunded"
