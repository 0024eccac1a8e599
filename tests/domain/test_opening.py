"""Rule 1: when a buyer may open a case."""

import datetime as dt

import pytest

from tests.builders import ELIGIBLE, T0, cancelled, close_case, open_case, placed, refund
from tests.domain.helpers import rejection, run, sweep, types

DAY = dt.timedelta(days=1)


def test_buyer_opens_a_case_in_the_window():
    order, events = run(placed(), open_case(at=ELIGIBLE + DAY))
    assert types(events) == ["CaseOpened"]
    opened = events[0]
    assert opened.state == "open" and opened.case_id and opened.buyer_id == "b1"
    assert opened.escalation_available_at == ELIGIBLE + DAY + dt.timedelta(days=3)
    assert opened.late_delivery_at == ELIGIBLE + DAY + dt.timedelta(days=365)
    assert order.case is not None and order.case.state == "open"


def test_unknown_order_is_held_and_decided_when_the_order_arrives():
    order, events = run(open_case())
    assert events == [] and len(order.held) == 1
    order, events = run(placed(), order=order)
    assert types(events) == ["CaseOpened"] and order.held == []


def test_held_request_is_rejected_unknown_order_after_24_hours():
    action = open_case()
    order, _ = run(action)
    assert sweep(order, action.occurred_at + dt.timedelta(hours=23)) == []
    events = sweep(order, action.occurred_at + dt.timedelta(hours=24))
    assert rejection(events) == "unknown_order"
    assert events[0].occurred_at == action.occurred_at + dt.timedelta(hours=24)
    assert order.held == []


def test_only_the_orders_buyer_may_open():
    _, events = run(placed(), open_case(actor_id="someone-else"))
    assert rejection(events) == "not_order_buyer"
    _, events = run(placed(), open_case(actor_id="b1", actor_role="seller"))
    assert rejection(events) == "not_order_buyer"


def test_cancelled_order_cannot_have_a_case():
    _, events = run(placed(), cancelled(), open_case())
    assert rejection(events) == "order_cancelled"


def test_cancellation_before_the_order_arrives_still_counts():
    _, events = run(cancelled(), placed(), open_case())
    assert rejection(events) == "order_cancelled"


def test_one_case_per_order():
    _, events = run(placed(), open_case(), open_case())
    assert types(events) == ["CaseOpened", "ActionRejected"]
    assert rejection(events) == "case_already_open"


def test_closed_case_does_not_come_back_by_opening_again():
    _, events = run(placed(), open_case(), close_case(), open_case(at=ELIGIBLE + 3 * DAY))
    assert rejection(events) == "case_closed"


def test_fully_refunded_order_cannot_have_a_case():
    _, events = run(placed(), refund(amount=2599, at=ELIGIBLE), open_case(at=ELIGIBLE + DAY))
    assert rejection(events) == "already_refunded"


def test_partly_refunded_order_can_have_a_case():
    opening = open_case()
    _, events = run(placed(), refund(amount=1000, at=opening.occurred_at - DAY), opening)
    assert types(events) == ["CaseOpened"]


def test_too_early_before_the_end_of_estimated_delivery():
    _, events = run(placed(), open_case(at=ELIGIBLE - dt.timedelta(seconds=1)))
    assert rejection(events) == "not_eligible_yet"
    assert events[0].window_opens_at == ELIGIBLE


def test_window_lasts_100_days_from_eligibility():
    _, events = run(placed(), open_case(at=ELIGIBLE + 100 * DAY))
    assert types(events) == ["CaseOpened"]
    _, events = run(placed(), open_case(at=ELIGIBLE + 100 * DAY + dt.timedelta(seconds=1)))
    assert rejection(events) == "window_expired"
    assert events[0].window_closes_at == ELIGIBLE + 100 * DAY


@pytest.mark.parametrize(
    ("ship_by", "estimated", "eligible_from"),
    [
        (dt.date(2026, 3, 3), None, dt.datetime(2026, 3, 4, tzinfo=dt.UTC)),
        (None, None, T0),
        (dt.date(2026, 3, 3), dt.date(2026, 3, 20), dt.datetime(2026, 3, 21, tzinfo=dt.UTC)),
    ],
)
def test_window_starts_from_estimated_delivery_else_ship_by_else_placing(
        ship_by, estimated, eligible_from):
    order = placed(ship_by=ship_by, estimated_delivery=estimated)
    _, events = run(order, open_case(at=eligible_from - dt.timedelta(seconds=1)))
    assert rejection(events) == "not_eligible_yet"
    _, events = run(order, open_case(at=eligible_from))
    assert types(events) == ["CaseOpened"]


def test_rejection_names_the_refused_record():
    action = open_case(actor_id="x")
    _, events = run(placed(), action)
    rejected = events[0]
    assert rejected.action == "OpenCase" and rejected.source_event_id == action.event_id
    assert rejected.state is None and rejected.case_id is None
