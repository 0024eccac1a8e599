"""Why the rules refuse an action: the `rejection` code of an ActionRejected event."""

from __future__ import annotations

from enum import StrEnum


class Rejection(StrEnum):
    UNKNOWN_ORDER = "unknown_order"
    NOT_ORDER_BUYER = "not_order_buyer"
    NOT_ORDER_SELLER = "not_order_seller"
    NOT_SUPPORT = "not_support"
    NOT_ELIGIBLE_YET = "not_eligible_yet"
    WINDOW_EXPIRED = "window_expired"
    ORDER_CANCELLED = "order_cancelled"
    ALREADY_REFUNDED = "already_refunded"
    CASE_ALREADY_OPEN = "case_already_open"
    CASE_CLOSED = "case_closed"
    NO_CASE = "no_case"
    TOO_EARLY = "too_early"
    NOT_ESCALATED = "not_escalated"
    LATE_DELIVERY_REQUIRES_FULL_REFUND = "late_delivery_requires_full_refund"
    SELLER_NOT_SUSPENDED = "seller_not_suspended"
