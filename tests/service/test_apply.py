"""The service layer: a batch through a unit of work (storage faked in memory)."""

from __future__ import annotations

import datetime as dt

import pytest

from domain.policy import Policy
from domain.records import InboundRecord
from service.apply import apply_batch
from service.unit_of_work import Cause, Inbound
from tests.builders import (
    ELIGIBLE,
    add_tracking,
    delivered,
    message,
    open_case,
    placed,
    refund,
    support,
)
from tests.service.fake_uow import FakeUnitOfWork

POLICY = Policy()
DAY, HOUR = dt.timedelta(days=1), dt.timedelta(hours=1)


def inbound(*records: InboundRecord, topic: str = "t") -> list[Inbound]:
    return [Inbound(Cause(topic, 0, n, r.event_id), r) for n, r in enumerate(records)]


def types(uow: FakeUnitOfWork) -> list[str]:
    return [e.event.type for e in uow.events]


def test_a_record_seen_twice_in_a_batch_or_across_batches_is_applied_once():
    uow = FakeUnitOfWork()
    opening = open_case()
    outcome = apply_batch(uow, inbound(placed(), opening, opening), POLICY)
    assert outcome.applied == 2 and outcome.duplicates == 1
    outcome = apply_batch(uow, inbound(opening), POLICY)
    assert outcome.applied == 0 and outcome.duplicates == 1
    assert types(uow) == ["CaseOpened"]


def test_invalid_record_is_reported_and_unclaimed_and_the_rest_applied():
    uow = FakeUnitOfWork()
    bad = refund(currency="USD")
    outcome = apply_batch(uow, inbound(placed(), open_case(), bad, refund(amount=100)), POLICY)
    assert [(i.record.event_id, reason) for i, reason in outcome.invalid] == [
        (bad.event_id, "currency USD differs from the order's EUR")]
    assert bad.event_id not in uow.inbox  # a redrive after a fix is not a duplicate
    assert types(uow) == ["CaseOpened", "RefundRecorded"]


def test_events_carry_their_cause():
    uow = FakeUnitOfWork()
    opening = open_case()
    apply_batch(uow, inbound(placed(), opening, topic="case-actions"), POLICY)
    (recorded,) = uow.events
    assert recorded.cause == Cause("case-actions", 0, 1, opening.event_id)
    assert recorded.event.rule == "rule-1 opening"


@pytest.mark.parametrize("carrier_first", [True, False])
def test_delivery_closes_the_case_whichever_comes_first(carrier_first):
    uow = FakeUnitOfWork()
    apply_batch(uow, inbound(placed(), open_case()), POLICY)
    batches = [inbound(delivered(), topic="carrier-tracking"),
               inbound(add_tracking(), topic="case-actions")]
    for batch in batches if carrier_first else reversed(batches):
        apply_batch(uow, batch, POLICY)
    assert uow.orders["o1"].case.state == "closed"
    assert uow.orders["o1"].case.close_reason == "delivered"
    assert types(uow)[-1] == "CaseClosed"


def test_an_order_placed_in_the_batch_that_reports_its_parcel_gets_the_report():
    """A batch may hold any mix of records (the consumers' each hold one topic's): the
    reports are written before the parcels the batch's placings need are read, so the
    placing that releases a held AddTracking sees the delivery of the same batch."""
    uow = FakeUnitOfWork()
    apply_batch(uow, inbound(open_case(), add_tracking(), topic="case-actions"), POLICY)
    assert uow.orders["o1"].case is None  # held: the order is not known yet
    apply_batch(uow, inbound(delivered(), placed()), POLICY)
    assert uow.orders["o1"].case.state == "closed"
    assert uow.orders["o1"].case.close_reason == "delivered"


def test_a_delivery_reported_before_the_parcel_is_linked_counts_from_its_own_time():
    uow = FakeUnitOfWork()
    opening = open_case()
    apply_batch(uow, inbound(placed(), opening), POLICY)
    later_delivery = delivered(at=opening.occurred_at + 5 * DAY)
    apply_batch(uow, inbound(later_delivery, topic="carrier-tracking"), POLICY)
    apply_batch(uow, inbound(support("escalate", at=opening.occurred_at + DAY),
                             add_tracking(at=opening.occurred_at + HOUR),
                             topic="case-actions"), POLICY)
    closed = uow.events[-1]
    assert [e.event.type for e in uow.events] == [
        "CaseOpened", "CaseEscalated", "TrackingAdded", "CaseClosed"]
    # closed when the carrier delivered, by that report: the escalation came before it
    assert closed.event.occurred_at == later_delivery.occurred_at
    assert closed.event.cause_id == later_delivery.event_id
    assert uow.orders["o1"].case.escalated_by == "platform"


def test_one_carrier_report_closing_two_orders_cases_gives_each_its_own_event():
    uow = FakeUnitOfWork()
    for order_id in ("o1", "o2"):
        apply_batch(uow, inbound(placed(order_id), open_case(order_id),
                                 add_tracking(order_id)), POLICY)
    apply_batch(uow, inbound(delivered(at=ELIGIBLE + 2 * DAY), topic="carrier-tracking"),
                POLICY)
    closings = [e.event for e in uow.events if e.event.type == "CaseClosed"]
    assert sorted(e.order_id for e in closings) == ["o1", "o2"]
    assert len({e.event_id for e in closings}) == 2


def test_sellers_are_locked_exclusively_only_by_batches_that_may_change_a_standing():
    uow = FakeUnitOfWork()
    apply_batch(uow, inbound(placed(), open_case(), message()), POLICY)
    assert uow.exclusive_seller_locks is False
    apply_batch(uow, inbound(support("suspend_seller")), POLICY)
    assert uow.exclusive_seller_locks is True
    # a suspension held until its order arrives changes the standing with OrderPlaced
    apply_batch(uow, inbound(support("reinstate_seller", order_id="o2")), POLICY)
    apply_batch(uow, inbound(placed("o2")), POLICY)
    assert uow.exclusive_seller_locks is True
    assert "SellerReinstated" in types(uow)
