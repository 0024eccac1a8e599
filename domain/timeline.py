"""Deciding an order's history in event time: its records in the order they happened,
each time rule firing as its moment passes.

The service calls `advance` with the records that the watermark has passed and that
come after everything the order has decided (`Order.is_late`), and the moment up to
which time rules may fire (the watermark): nothing still unread can then change these
decisions. A record that arrives after the order's history was decided past its time is
late: `redecide` decides the whole history again from nothing, with it in its place, so
the service can publish what differs (`domain.revisions`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, MutableMapping

from domain import deadlines
from domain.decision import Decision, InvalidRecord, SellerStanding
from domain.order import Order
from domain.policy import Policy
from domain.records import (
    InboundRecord,
    MessageSent,
    OrderCancelled,
    OrderPlaced,
    OrderShipped,
    PaymentCaptured,
    RefundIssued,
    TrackingUpdated,
)
from domain.rules import NEEDS_TERMS, RULES

#: at one instant: the order's placing first, then what changes it, money, the case
#: actions (3), messages, carrier reports; time rules last (`deadlines.DEADLINE_RANK`)
_SAME_INSTANT_RANK: dict[type[InboundRecord], int] = {
    OrderPlaced: 0, OrderShipped: 1, OrderCancelled: 1, PaymentCaptured: 2, RefundIssued: 2,
    MessageSent: 4, TrackingUpdated: 5,
}
CASE_ACTION_RANK = 3


def rank(record: InboundRecord) -> int:
    return _SAME_INSTANT_RANK.get(type(record), CASE_ACTION_RANK)


def happened(record: InboundRecord) -> tuple[dt.datetime, int]:
    """The order records happened in: by time; at one instant, by kind of record, so
    every arrival order sorts them alike. Records of one kind at one instant keep the
    order they are given in (sorts are stable): their partition's."""
    return record.occurred_at, rank(record)


def is_late(order: Order, record: InboundRecord) -> bool:
    return order.is_late(record.occurred_at, rank(record))


def advance(order: Order, records: Iterable[InboundRecord], until: dt.datetime,
            policy: Policy, sellers: MutableMapping[str, SellerStanding]) -> Decision:
    """Decide `records` (none of them late) in the order they happened, firing each time
    rule before the first record after it, then every time rule due by `until`."""
    decision = Decision(order, policy, sellers)
    for record in sorted(records, key=happened):
        deadlines.fire(decision, before=record.occurred_at)
        decide_record(decision, record)
        order.passed(*happened(record))
    deadlines.fire(decision, through=until)
    return decision


def redecide(order_id: str, history: Iterable[InboundRecord], until: dt.datetime,
             policy: Policy, sellers: MutableMapping[str, SellerStanding]
             ) -> tuple[Order, Decision]:
    """The order decided again from nothing: every record of its history, up to `until`."""
    order = Order(order_id)
    return order, advance(order, history, until, policy, sellers)


def decide_record(d: Decision, record: InboundRecord) -> None:
    """Apply one record to the order as it stands (its place in time is the caller's)."""
    order = d.order
    if type(record) in NEEDS_TERMS and order.terms is None:
        order.held.append(_kept(record))  # until its order comes, or the hold runs out
        return
    try:
        RULES[type(record)](d, record)
    except InvalidRecord as exc:
        d.invalid.append((record.event_id, str(exc)))
        return
    if isinstance(record, OrderPlaced):
        held, order.held = order.held, []
        for waiting in sorted(held, key=happened):
            decide_record(d, waiting)


def _kept(record: InboundRecord) -> InboundRecord:
    """As the order keeps it: no rule reads a message's body, so it is not kept."""
    if isinstance(record, MessageSent) and record.body:
        return dataclasses.replace(record, body="")
    return record
