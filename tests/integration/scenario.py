"""Inbound records in JSON form for one order, as upstream services would send them."""

from __future__ import annotations

import uuid
from typing import Any

from schemas.json_form import from_json

ADDRESS = {"name": "Ada Buyer", "line1": "12 Rue de la Paix", "city": "Paris",
           "postal_code": "75002", "country": "FR"}


def _eid() -> str:
    return str(uuid.uuid4())


class Scenario:
    """Builds the records of one order's life; each method returns (topic, record)."""

    def __init__(self, order_id: str) -> None:
        self.order_id = order_id
        self.buyer, self.seller = f"buyer-{order_id}", f"seller-{order_id}"

    def _record(self, topic: str, obj: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return topic, from_json(topic, {"event_id": _eid(), **obj})

    def placed(self, total: int = 5000, at: str = "2026-03-01T10:00:00Z",
               estimated_delivery: str = "2026-03-10") -> tuple[str, dict[str, Any]]:
        return self._record("orders", {
            "type": "OrderPlaced", "occurred_at": at,
            "order_id": self.order_id, "buyer_id": self.buyer, "seller_id": self.seller,
            "total": {"amount_minor": total, "currency": "EUR"},
            "payment_method": "aliberber_payments", "shipping_address": ADDRESS,
            "ship_by": "2026-03-03", "estimated_delivery": estimated_delivery})

    def captured(self, amount: int = 5000) -> tuple[str, dict[str, Any]]:
        return self._record("payments", {
            "type": "PaymentCaptured", "occurred_at": "2026-03-01T10:01:00Z",
            "payment_id": _eid(), "order_id": self.order_id,
            "amount": {"amount_minor": amount, "currency": "EUR"},
            "provider": "aliberber_payments"})

    def open_case(self, actor: str | None = None,
                  at: str = "2026-03-12T09:00:00Z") -> tuple[str, dict[str, Any]]:
        return self._record("case-actions", {
            "type": "OpenCase", "occurred_at": at, "order_id": self.order_id,
            "actor_id": actor or self.buyer, "actor_role": "buyer",
            "reason": "non_delivery", "description": "It never arrived."})

    def close_case(self, at: str = "2026-03-13T09:00:00Z") -> tuple[str, dict[str, Any]]:
        return self._record("case-actions", {
            "type": "CloseCase", "occurred_at": at, "order_id": self.order_id,
            "actor_id": self.buyer, "actor_role": "buyer"})

    def refund(self, amount: int, at: str = "2026-03-13T10:00:00Z") -> tuple[str, dict[str, Any]]:
        return self._record("payments", {
            "type": "RefundIssued", "occurred_at": at, "refund_id": _eid(),
            "order_id": self.order_id, "amount": {"amount_minor": amount, "currency": "EUR"},
            "provider": "aliberber_payments", "initiated_by": "seller"})

    def action(self, record_type: str, actor: str | None = None, role: str = "buyer",
               at: str = "2026-03-13T09:00:00Z", **fields: Any) -> tuple[str, dict[str, Any]]:
        actor = actor or {"buyer": self.buyer, "seller": self.seller}.get(role, "agent-7")
        return self._record("case-actions", {
            "type": record_type, "occurred_at": at, "order_id": self.order_id,
            "actor_id": actor, "actor_role": role, **fields})

    def add_tracking(self, at: str = "2026-03-13T09:00:00Z",
                     number: str | None = None) -> tuple[str, dict[str, Any]]:
        return self.action("AddTracking", role="seller", at=at, carrier="laposte",
                           tracking_number=number or f"LP-{self.order_id}", proof="tracking")

    def support(self, action: str, reason: str = "integrity",
                at: str = "2026-03-13T09:00:00Z") -> tuple[str, dict[str, Any]]:
        return self.action("SupportAction", role="support", at=at, action=action,
                           reason=reason)

    def delivered(self, at: str = "2026-03-12T18:00:00Z",
                  number: str | None = None) -> tuple[str, dict[str, Any]]:
        return self._record("carrier-tracking", {
            "type": "TrackingUpdated", "occurred_at": at, "carrier": "laposte",
            "tracking_number": number or f"LP-{self.order_id}", "status": "delivered",
            "delivered_to": {**ADDRESS, "line1": "12, rue de la PAIX"}})

    def message(self, kind: str = "problem_report", role: str = "buyer",
                at: str = "2026-03-11T09:00:00Z") -> tuple[str, dict[str, Any]]:
        sender = self.buyer if role == "buyer" else self.seller
        return self._record("messages", {
            "type": "MessageSent", "occurred_at": at, "order_id": self.order_id,
            "sender_id": sender, "sender_role": role, "kind": kind, "body": "Hello?"})
