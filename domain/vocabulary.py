"""The policy's words: every state, role, reason and rule label the rules speak of.

They are `StrEnum`s, so a value read from a record or a stored document (a plain string)
compares equal to its member, and a member is written out as its string.
"""

from __future__ import annotations

from enum import StrEnum


class CaseState(StrEnum):
    OPEN = "open"
    ESCALATED = "escalated"
    CLOSED = "closed"


#: a case in one of these states can still change: it is "live"
LIVE_STATES = frozenset({CaseState.OPEN, CaseState.ESCALATED})


class Role(StrEnum):
    """Who sends a message or takes an action."""

    BUYER = "buyer"
    SELLER = "seller"
    SUPPORT = "support"


class CaseReason(StrEnum):
    """The only two reasons a case may be opened for."""

    NON_DELIVERY = "non_delivery"
    NOT_AS_DESCRIBED = "not_as_described"


class CloseReason(StrEnum):
    FULL_REFUND = "full_refund"
    BUYER_CLOSED = "buyer_closed"
    DELIVERED = "delivered"
    SUPPORT_CLOSED = "support_closed"


class EscalatedBy(StrEnum):
    BUYER = "buyer"
    PLATFORM = "platform"


class SupportActionKind(StrEnum):
    ESCALATE = "escalate"
    REFUND_AND_RECOUP = "refund_and_recoup"
    CLOSE = "close"
    REOPEN = "reopen"
    SUSPEND_SELLER = "suspend_seller"
    REINSTATE_SELLER = "reinstate_seller"


#: the support actions that change a seller's standing rather than a case
STANDING_ACTIONS = frozenset({SupportActionKind.SUSPEND_SELLER,
                              SupportActionKind.REINSTATE_SELLER})


class Provider(StrEnum):
    """Who moved the money: only the marketplace's own payments can close a case."""

    ALIBERBER_PAYMENTS = "aliberber_payments"
    OTHER = "other"


class MessageKind(StrEnum):
    MESSAGE = "message"
    PROBLEM_REPORT = "problem_report"


class CarrierStatus(StrEnum):
    LABEL_CREATED = "label_created"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    EXCEPTION = "exception"
    RETURNED_TO_SENDER = "returned_to_sender"


class Deadline(StrEnum):
    """The time rules: each fires once per case (the hold once per held action)."""

    SELLER_INACTIVITY = "seller_inactivity"
    ESCALATION_AVAILABLE = "escalation_available"
    LATE_DELIVERY = "late_delivery"
    UNKNOWN_ORDER = "unknown_order"


class Rule(StrEnum):
    """Which rule of the policy took a decision: kept with every case event in the case
    history (`cases show`), never sent on `case-events`."""

    OPENING = "rule-1 opening"
    UNKNOWN_ORDER = "rule-1 unknown order"
    PROBLEM_REPORT = "rule-2 problem report"
    PROOF_OF_SHIPPING = "rule-3 proof of shipping"
    PROOF_OF_DELIVERY = "rule-3 proof of delivery"
    REFUND = "rule-4 refund"
    FULL_REFUND = "rule-4 full refund"
    BUYER_CLOSES = "rule-5 buyer closes"
    ESCALATION = "rule-6 escalation"
    ESCALATION_AVAILABLE = "rule-6 escalation available"
    EARLY_ESCALATION = "rule-7 early escalation"
    SELLER_INACTIVITY = "rule-7 seller inactivity"
    LATE_DELIVERY = "rule-8 late delivery"
    SUPPORT_ESCALATE = "rule-9 support escalate"
    SUPPORT_REFUND_AND_RECOUP = "rule-9 support refund_and_recoup"
    SUPPORT_CLOSE = "rule-9 support close"
    SUPPORT_REOPEN = "rule-9 support reopen"
    SUPPORT_SUSPEND_SELLER = "rule-9 support suspend_seller"
    SUPPORT_REINSTATE_SELLER = "rule-9 support reinstate_seller"
    SELLER_STANDING = "rule-9 seller standing"
    WHO_MAY_ACT = "rule-10 who may act"
    LATE_RECORD = "late record"


SUPPORT_RULES: dict[str, Rule] = {
    SupportActionKind.ESCALATE: Rule.SUPPORT_ESCALATE,
    SupportActionKind.REFUND_AND_RECOUP: Rule.SUPPORT_REFUND_AND_RECOUP,
    SupportActionKind.CLOSE: Rule.SUPPORT_CLOSE,
    SupportActionKind.REOPEN: Rule.SUPPORT_REOPEN,
    SupportActionKind.SUSPEND_SELLER: Rule.SUPPORT_SUSPEND_SELLER,
    SupportActionKind.REINSTATE_SELLER: Rule.SUPPORT_REINSTATE_SELLER,
}
