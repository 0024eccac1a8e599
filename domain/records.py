"""The inbound records, as the rules see them (docs/contract.md, Records).

Field names are the contract's; `from_record` builds one from a decoded Avro record.
Values of the contract's enumerations stay plain strings here; the rules compare them
with the members of `domain.vocabulary`, which are strings too.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from domain.values import Shape


@dataclass(frozen=True)
class Money:
    amount_minor: int
    currency: str


@dataclass(frozen=True)
class Address:
    name: str
    line1: str
    city: str
    postal_code: str
    country: str
    line2: str | None = None
    region: str | None = None


@dataclass(frozen=True, kw_only=True)
class InboundRecord:
    event_id: str
    occurred_at: dt.datetime

    type_name: ClassVar[str] = ""


@dataclass(frozen=True, kw_only=True)
class OrderPlaced(InboundRecord):
    order_id: str
    buyer_id: str
    seller_id: str
    total: Money
    payment_method: str
    shipping_address: Address
    ship_by: dt.date | None = None
    estimated_delivery: dt.date | None = None


@dataclass(frozen=True, kw_only=True)
class OrderShipped(InboundRecord):
    order_id: str
    carrier: str
    tracking_number: str


@dataclass(frozen=True, kw_only=True)
class OrderCancelled(InboundRecord):
    order_id: str


@dataclass(frozen=True, kw_only=True)
class MessageSent(InboundRecord):
    order_id: str
    sender_id: str
    sender_role: str
    kind: str
    body: str = dataclasses.field(repr=False)  # personal data: kept out of reprs and logs


@dataclass(frozen=True, kw_only=True)
class TrackingUpdated(InboundRecord):
    carrier: str
    tracking_number: str
    status: str
    delivered_to: Address | None = dataclasses.field(default=None, repr=False)


@dataclass(frozen=True, kw_only=True)
class PaymentCaptured(InboundRecord):
    payment_id: str
    order_id: str
    amount: Money
    provider: str


@dataclass(frozen=True, kw_only=True)
class RefundIssued(InboundRecord):
    refund_id: str
    order_id: str
    amount: Money
    provider: str
    initiated_by: str


@dataclass(frozen=True, kw_only=True)
class CaseAction(InboundRecord):
    """A request made on the case screens or in the support tool."""

    order_id: str
    actor_id: str
    actor_role: str


@dataclass(frozen=True, kw_only=True)
class OpenCase(CaseAction):
    reason: str
    description: str = dataclasses.field(repr=False)


@dataclass(frozen=True, kw_only=True)
class AddTracking(CaseAction):
    carrier: str
    tracking_number: str
    proof: str


@dataclass(frozen=True, kw_only=True)
class EscalateCase(CaseAction):
    pass


@dataclass(frozen=True, kw_only=True)
class CloseCase(CaseAction):
    pass


@dataclass(frozen=True, kw_only=True)
class SupportAction(CaseAction):
    action: str
    reason: str


RECORD_TYPES: dict[str, type[InboundRecord]] = {
    cls.__name__: cls
    for cls in (OrderPlaced, OrderShipped, OrderCancelled, MessageSent, TrackingUpdated,
                PaymentCaptured, RefundIssued, OpenCase, AddTracking, EscalateCase, CloseCase,
                SupportAction)
}

_NESTED = {name: Shape.of(cls) for name, cls in
           (("total", Money), ("amount", Money), ("shipping_address", Address),
            ("delivered_to", Address))}
#: each record type's fields, looked up once (every inbound record is built with them)
_SHAPES = {name: Shape.of(cls) for name, cls in RECORD_TYPES.items()}
#: each record type's fields that hold a value of their own (money, an address)
_NESTED_OF = {name: tuple((field, _NESTED[field]) for field in shape.order if field in _NESTED)
              for name, shape in _SHAPES.items()}


def from_record(record: Mapping[str, Any]) -> InboundRecord:
    """Build the typed record from a decoded (already contract-checked) Avro record."""
    kind = record["type"]
    nested = _NESTED_OF[kind]
    if nested:
        record = dict(record)
        for name, shape in nested:
            value = record.get(name)
            if value is not None:
                record[name] = shape.build(value)
    built: InboundRecord = _SHAPES[kind].build(record)
    return built


def record_type(record: InboundRecord) -> str:
    return type(record).__name__


def order_of(record: InboundRecord) -> str | None:
    """The order a record is about; None for a carrier report, which is about a parcel."""
    order_id = getattr(record, "order_id", None)
    return order_id if isinstance(order_id, str) else None
