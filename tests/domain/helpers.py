from __future__ import annotations

import datetime as dt

from domain.case_events import CaseEvent
from domain.decision import SellerStanding
from domain.order import Order
from domain.policy import Policy
from domain.records import InboundRecord
from domain.timeline import advance

POLICY = Policy()


def run(*records: InboundRecord, order: Order | None = None,
        seller: SellerStanding | None = None) -> tuple[Order, list[CaseEvent]]:
    """Decide records one by one, each as the watermark passes it (deadlines due by
    then fire); return the order and every event they caused."""
    order = order or Order("o1")
    sellers = {"s1": seller or SellerStanding("s1")}
    events: list[CaseEvent] = []
    for record in records:
        events += advance(order, [record], record.occurred_at, POLICY, sellers).events
    return order, events


def sweep(order: Order, now: dt.datetime, seller: SellerStanding | None = None
          ) -> list[CaseEvent]:
    """The watermark passes `now` with no new record: the time rules due fire."""
    sellers = {"s1": seller or SellerStanding("s1")}
    return advance(order, [], now, POLICY, sellers).events


def types(events: list[CaseEvent]) -> list[str]:
    return [e.type for e in events]


def rejection(events: list[CaseEvent]) -> str | None:
    rejected = [e for e in events if e.type == "ActionRejected"]
    # type: ignore below: only ActionRejected kept
    return rejected[-1].rejection if rejected else None  # type: ignore[attr-defined]
