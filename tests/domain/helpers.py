from __future__ import annotations

from domain.case_events import CaseEvent
from domain.order import Order, SellerStanding
from domain.policy import Policy
from domain.records import InboundRecord

POLICY = Policy()


def run(*records: InboundRecord, order: Order | None = None,
        seller: SellerStanding | None = None) -> tuple[Order, list[CaseEvent]]:
    """Apply records in order to one order; return it and every event they caused."""
    order = order or Order("o1")
    seller = seller or SellerStanding("s1")
    events: list[CaseEvent] = []
    for record in records:
        events += order.apply(record, POLICY, seller)
    return order, events


def types(events: list[CaseEvent]) -> list[str]:
    return [e.type for e in events]


def rejection(events: list[CaseEvent]) -> str | None:
    rejected = [e for e in events if e.type == "ActionRejected"]
    return rejected[-1].rejection if rejected else None  # type: ignore[attr-defined]
