"""One realistic record of every message type, as the codec takes them (timestamps as
aware datetimes, dates as dates). The Java test vectors (vectors.json) and the Java
reader's integration test are made from these; every optional field is set somewhere,
and some text is not ASCII, so both sides must agree on UTF-8 too."""

from __future__ import annotations

import datetime as dt
from typing import Any

UTC = dt.timezone.utc
ORDER = "ord-2026-0301-7f3a9c"
BUYER = "buyer-51e0a8"
SELLER = "seller-c47d12"
CASE = "case-ord-2026-0301-7f3a9c"
AT = dt.datetime(2026, 3, 14, 9, 30, 15, 250000, tzinfo=UTC)


def _eur(minor: int) -> dict[str, Any]:
    return {"amount_minor": minor, "currency": "EUR"}


def _inbound(kind_: str, event_id: str, at: dt.datetime, **fields: Any) -> dict[str, Any]:
    return {"event_id": event_id, "type": kind_, "occurred_at": at, **fields}


def _event(kind: str, event_id: str, state: str | None = "open", **fields: Any) -> dict[str, Any]:
    return {"event_id": event_id, "type": kind, "occurred_at": AT, "order_id": ORDER,
            "case_id": CASE if state else None, "buyer_id": BUYER, "seller_id": SELLER,
            "state": state, **fields}


_ADDRESS = {"name": "Zoë Müller", "line1": "Lindwurmstraße 88", "line2": "3. OG links",
            "city": "München", "region": "Bayern", "postal_code": "80337", "country": "DE"}
_ACTOR = {"order_id": ORDER, "actor_id": BUYER, "actor_role": "buyer"}

INBOUND: dict[str, dict[str, Any]] = {r["type"]: r for r in [
    _inbound("OrderPlaced", "5b0c8f9e-3f5d-4c2e-9a41-0d7e6c1b2a01",
             dt.datetime(2026, 3, 1, 10, 0, tzinfo=UTC), order_id=ORDER, buyer_id=BUYER,
             seller_id=SELLER, total=_eur(2599), payment_method="aliberber_payments",
             shipping_address=_ADDRESS, ship_by=dt.date(2026, 3, 4),
             estimated_delivery=dt.date(2026, 3, 10)),
    _inbound("OrderShipped", "5b0c8f9e-3f5d-4c2e-9a41-0d7e6c1b2a02",
             dt.datetime(2026, 3, 3, 16, 45, tzinfo=UTC), order_id=ORDER, carrier="dhl",
             tracking_number="JJD000390007812345678"),
    _inbound("OrderCancelled", "5b0c8f9e-3f5d-4c2e-9a41-0d7e6c1b2a03",
             dt.datetime(2026, 3, 1, 10, 5, tzinfo=UTC), order_id=ORDER),
    _inbound("MessageSent", "msg-88f1c2", dt.datetime(2026, 3, 12, 8, 15, tzinfo=UTC),
             order_id=ORDER, sender_id=BUYER, sender_role="buyer", kind="problem_report",
             body="Das Paket ist nicht angekommen, bitte prüfen 📦"),
    _inbound("TrackingUpdated", "trk-dhl-0003", dt.datetime(2026, 3, 9, 13, 2, tzinfo=UTC),
             carrier="dhl", tracking_number="JJD000390007812345678", status="delivered",
             delivered_to=_ADDRESS),
    _inbound("PaymentCaptured", "pay-0a77e3", dt.datetime(2026, 3, 1, 10, 0, 4, tzinfo=UTC),
             payment_id="pi_3PqX7a", order_id=ORDER, amount=_eur(2599),
             provider="aliberber_payments"),
    _inbound("RefundIssued", "ref-91b4d0", dt.datetime(2026, 3, 20, 11, 0, tzinfo=UTC),
             refund_id="re_3PqZ1c", order_id=ORDER, amount=_eur(1000),
             provider="aliberber_payments", initiated_by="seller"),
    _inbound("OpenCase", "act-3c9e01", dt.datetime(2026, 3, 14, 9, 30, 15, 250000, tzinfo=UTC),
             **_ACTOR, reason="non_delivery", description="Nothing arrived; tracking says "
             "delivered to a neighbour I do not know."),
    _inbound("AddTracking", "act-3c9e02", dt.datetime(2026, 3, 15, 7, 0, tzinfo=UTC),
             order_id=ORDER, actor_id=SELLER, actor_role="seller", carrier="dhl",
             tracking_number="JJD000390007812345678", proof="delivery_confirmation"),
    _inbound("EscalateCase", "act-3c9e03", dt.datetime(2026, 3, 18, 12, 0, tzinfo=UTC),
             **_ACTOR),
    _inbound("CloseCase", "act-3c9e04", dt.datetime(2026, 3, 22, 18, 30, tzinfo=UTC),
             **_ACTOR),
    _inbound("SupportAction", "act-3c9e05", dt.datetime(2026, 3, 19, 9, 0, tzinfo=UTC),
             order_id=ORDER, actor_id="support-agent-17", actor_role="support",
             action="refund_and_recoup", reason="tracking_investigation"),
]}

CASE_EVENTS: dict[str, dict[str, Any]] = {r["type"]: r for r in [
    _event("CaseOpened", "0b7d3c52-51c4-5d7e-8e0a-6a3f1f2b9c01", reason="non_delivery",
           escalation_available_at=dt.datetime(2026, 3, 17, 9, 30, 15, 250000, tzinfo=UTC),
           seller_response_due_at=dt.datetime(2026, 3, 17, 9, 30, 15, 250000, tzinfo=UTC),
           late_delivery_at=dt.datetime(2027, 3, 14, 9, 30, 15, 250000, tzinfo=UTC)),
    _event("ProblemReported", "0b7d3c52-51c4-5d7e-8e0a-6a3f1f2b9c02", state=None),
    _event("TrackingAdded", "0b7d3c52-51c4-5d7e-8e0a-6a3f1f2b9c03", carrier="dhl",
           tracking_number="JJD000390007812345678", proof="delivery_confirmation"),
    _event("RefundRecorded", "0b7d3c52-51c4-5d7e-8e0a-6a3f1f2b9c04", amount=_eur(1000),
           refunded_total=_eur(1000), full=False),
    _event("EscalationAvailable", "0b7d3c52-51c4-5d7e-8e0a-6a3f1f2b9c05"),
    _event("CaseEscalated", "0b7d3c52-51c4-5d7e-8e0a-6a3f1f2b9c06", state="escalated",
           by="platform", reason="seller_inactivity"),
    _event("CaseClosed", "0b7d3c52-51c4-5d7e-8e0a-6a3f1f2b9c07", state="closed",
           close_reason="full_refund"),
    _event("CaseReopened", "0b7d3c52-51c4-5d7e-8e0a-6a3f1f2b9c08", state="escalated",
           reason="integrity"),
    _event("LateDelivery", "0b7d3c52-51c4-5d7e-8e0a-6a3f1f2b9c09"),
    _event("SupportRefundRequested", "0b7d3c52-51c4-5d7e-8e0a-6a3f1f2b9c0a",
           state="escalated", amount=_eur(1599), recoup_from_seller=True),
    _event("SellerSuspended", "0b7d3c52-51c4-5d7e-8e0a-6a3f1f2b9c0b", state="escalated",
           reason="seller_inactivity"),
    _event("SellerReinstatementEligible", "0b7d3c52-51c4-5d7e-8e0a-6a3f1f2b9c0c",
           state="closed", reason="seller_inactivity"),
    _event("SellerReinstated", "0b7d3c52-51c4-5d7e-8e0a-6a3f1f2b9c0d", state="closed",
           reason="seller_inactivity"),
    _event("ActionRejected", "0b7d3c52-51c4-5d7e-8e0a-6a3f1f2b9c0e", state=None,
           action="OpenCase", rejection="not_eligible_yet", source_event_id="act-3c9e01",
           window_opens_at=dt.datetime(2026, 3, 11, 0, 0, tzinfo=UTC),
           window_closes_at=dt.datetime(2026, 6, 19, 0, 0, tzinfo=UTC),
           escalation_available_at=None),
    _event("DecisionSuperseded", "0b7d3c52-51c4-5d7e-8e0a-6a3f1f2b9c0f", state="open",
           superseded_event_id="0b7d3c52-51c4-5d7e-8e0a-6a3f1f2b9c06",
           superseded_type="CaseEscalated", late_event_id="act-3c9e02"),
]}

ALL: dict[str, dict[str, Any]] = {**INBOUND, **CASE_EVENTS}
