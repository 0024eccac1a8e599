"""Builders of inbound records for tests: sensible defaults, override what matters."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from typing import Any

from domain.records import (
    Address,
    AddTracking,
    CloseCase,
    EscalateCase,
    InboundRecord,
    MessageSent,
    Money,
    OpenCase,
    OrderCancelled,
    OrderPlaced,
    OrderShipped,
    PaymentCaptured,
    RefundIssued,
    SupportAction,
    TrackingUpdated,
)

_ids = itertools.count(1)
T0 = dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.UTC)
ESTIMATED_DELIVERY = dt.date(2026, 3, 10)
ELIGIBLE = dt.datetime(2026, 3, 11, 0, 0, tzinfo=dt.UTC)  # end of the estimated delivery day
HOME = Address(name="Ada Buyer", line1="12 Rue de la Paix", city="Paris", postal_code="75002",
               country="FR")


def eid(prefix: str = "e") -> str:
    return f"{prefix}-{next(_ids)}"


def placed(order_id: str = "o1", **kw: Any) -> OrderPlaced:
    values: dict[str, Any] = dict(
        event_id=eid("placed"), occurred_at=T0, order_id=order_id, buyer_id="b1",
        seller_id="s1", total=Money(2599, "EUR"), payment_method="aliberber_payments",
        shipping_address=HOME, ship_by=dt.date(2026, 3, 3),
        estimated_delivery=ESTIMATED_DELIVERY)
    values.update(kw)
    return OrderPlaced(**values)


def shipped(order_id: str = "o1", **kw: Any) -> OrderShipped:
    return OrderShipped(**{"event_id": eid("shipped"), "occurred_at": T0, "order_id": order_id,
                           "carrier": "dhl", "tracking_number": "T1", **kw})


def cancelled(order_id: str = "o1", **kw: Any) -> OrderCancelled:
    return OrderCancelled(**{"event_id": eid("cancel"), "occurred_at": T0,
                             "order_id": order_id, **kw})


def open_case(order_id: str = "o1", at: dt.datetime = ELIGIBLE + dt.timedelta(days=1),
              **kw: Any) -> OpenCase:
    return OpenCase(**{"event_id": eid("open"), "occurred_at": at, "order_id": order_id,
                       "actor_id": "b1", "actor_role": "buyer", "reason": "non_delivery",
                       "description": "never arrived", **kw})


def close_case(order_id: str = "o1", at: dt.datetime = ELIGIBLE + dt.timedelta(days=2),
               **kw: Any) -> CloseCase:
    return CloseCase(**{"event_id": eid("close"), "occurred_at": at, "order_id": order_id,
                        "actor_id": "b1", "actor_role": "buyer", **kw})


def escalate(order_id: str = "o1", at: dt.datetime = ELIGIBLE + dt.timedelta(days=5),
             **kw: Any) -> EscalateCase:
    return EscalateCase(**{"event_id": eid("esc"), "occurred_at": at, "order_id": order_id,
                           "actor_id": "b1", "actor_role": "buyer", **kw})


def add_tracking(order_id: str = "o1", at: dt.datetime = ELIGIBLE + dt.timedelta(days=2),
                 **kw: Any) -> AddTracking:
    return AddTracking(**{"event_id": eid("track"), "occurred_at": at, "order_id": order_id,
                          "actor_id": "s1", "actor_role": "seller", "carrier": "dhl",
                          "tracking_number": "T1", "proof": "tracking", **kw})


def support(action: str, order_id: str = "o1",
            at: dt.datetime = ELIGIBLE + dt.timedelta(days=6), **kw: Any) -> SupportAction:
    return SupportAction(**{"event_id": eid("support"), "occurred_at": at,
                            "order_id": order_id, "actor_id": "agent7",
                            "actor_role": "support", "action": action,
                            "reason": "integrity", **kw})


def message(order_id: str = "o1", at: dt.datetime = ELIGIBLE + dt.timedelta(days=1),
            **kw: Any) -> MessageSent:
    return MessageSent(**{"event_id": eid("msg"), "occurred_at": at, "order_id": order_id,
                          "sender_id": "b1", "sender_role": "buyer", "kind": "problem_report",
                          "body": "where is it?", **kw})


def delivered(at: dt.datetime = ELIGIBLE + dt.timedelta(days=1), to: Address = HOME,
              **kw: Any) -> TrackingUpdated:
    return TrackingUpdated(**{"event_id": eid("carrier"), "occurred_at": at, "carrier": "dhl",
                              "tracking_number": "T1", "status": "delivered",
                              "delivered_to": to, **kw})


def captured(order_id: str = "o1", amount: int = 2599, **kw: Any) -> PaymentCaptured:
    return PaymentCaptured(**{"event_id": eid("pay"), "occurred_at": T0, "order_id": order_id,
                              "payment_id": eid("payment"), "amount": Money(amount, "EUR"),
                              "provider": "aliberber_payments", **kw})


def refund(order_id: str = "o1", amount: int = 2599,
           at: dt.datetime = ELIGIBLE + dt.timedelta(days=2), currency: str = "EUR",
           **kw: Any) -> RefundIssued:
    return RefundIssued(**{"event_id": eid("refund"), "occurred_at": at, "order_id": order_id,
                           "refund_id": eid("refund-id"), "amount": Money(amount, currency),
                           "provider": "aliberber_payments", "initiated_by": "seller", **kw})


def fields_of(record: InboundRecord) -> dict[str, Any]:
    """A typed record's fields as decoding gives them (what the codec encodes and
    `Inbound.fields` holds): its type's name, then each field, money and addresses as
    mappings."""
    def plain(value: object) -> object:
        return dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value

    return {"type": type(record).__name__,
            **{f.name: plain(getattr(record, f.name)) for f in dataclasses.fields(record)}}
