"""Which rule decides each kind of inbound record: one table, read by the timeline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain import case_actions, messages, payments, placing, support, tracking
from domain.decision import Decision
from domain.records import (
    AddTracking,
    CloseCase,
    EscalateCase,
    InboundRecord,
    MessageSent,
    OpenCase,
    OrderCancelled,
    OrderPlaced,
    OrderShipped,
    PaymentCaptured,
    RefundIssued,
    SupportAction,
    TrackingUpdated,
)

Rule = Callable[[Decision, Any], None]

RULES: dict[type[InboundRecord], Rule] = {
    OrderPlaced: placing.place,
    OrderShipped: placing.ship,
    OrderCancelled: placing.cancel,
    PaymentCaptured: payments.capture,
    RefundIssued: payments.refund,
    TrackingUpdated: tracking.carrier_report,
    MessageSent: messages.message,
    OpenCase: case_actions.open_case,
    AddTracking: tracking.add_tracking,
    EscalateCase: case_actions.escalate,
    CloseCase: case_actions.buyer_close,
    SupportAction: support.support_action,
}

#: records whose rules read the order's terms: before OrderPlaced they wait for it
NEEDS_TERMS: frozenset[type[InboundRecord]] = frozenset({
    MessageSent, OpenCase, AddTracking, EscalateCase, CloseCase, SupportAction})
