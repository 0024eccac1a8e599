"""The events this service publishes on `case-events`, one dataclass per type.

An event's id is derived from its order, its cause (the inbound record's `event_id`, or
the deadline's) and its type, so a replay or a retry after a crash re-sends the same id.
A decision taken again differently, after a record arrived too late, is published under
an id of its own (`revision`), and `DecisionSuperseded` names the one it replaces.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from domain.ids import name_based_id
from domain.records import Money

EVENT_ID_NAMESPACE = uuid.UUID("6f1d2c3e-8a4b-4c5d-9e6f-0a1b2c3d4e5f")

#: fields that say where an event came from; kept in the case history, not sent
_PROVENANCE = ("cause_id", "rule", "revision")


@dataclass(frozen=True, kw_only=True)
class CaseEvent:
    occurred_at: dt.datetime
    order_id: str
    case_id: str | None
    buyer_id: str | None
    seller_id: str | None
    state: str | None
    #: the id of what caused it: an inbound record's event_id, or a sweeper deadline
    cause_id: str
    #: which policy rule decided it, e.g. "rule-1 opening"
    rule: str
    #: empty, or the late record after which this decision was taken again differently
    revision: str = ""

    @property
    def type(self) -> str:
        return type(self).__name__

    # Cached: asked several times of each event on its way out (kept in the instance's
    # __dict__, which a frozen dataclass leaves writable; not a field, so equality and
    # `dataclasses.replace` do not see it).
    @cached_property
    def decision_key(self) -> str:
        """The id of the decision itself: the same for every revision of it."""
        # the order is part of it: one carrier record can close the cases of two orders
        return name_based_id(EVENT_ID_NAMESPACE, f"{self.order_id}/{self.cause_id}/{self.type}")

    @cached_property
    def event_id(self) -> str:
        if not self.revision:
            return self.decision_key
        return name_based_id(EVENT_ID_NAMESPACE, f"{self.decision_key}/{self.revision}")

    def to_record(self) -> dict[str, Any]:
        """The record as the `case-events` Avro schema has it."""
        record: dict[str, Any] = {"event_id": self.event_id, "type": self.type}
        for field in dataclasses.fields(self):
            if field.name in _PROVENANCE:
                continue
            value = getattr(self, field.name)
            record[field.name] = dataclasses.asdict(value) if isinstance(value, Money) else value
        return record


@dataclass(frozen=True, kw_only=True)
class CaseOpened(CaseEvent):
    reason: str
    escalation_available_at: dt.datetime
    seller_response_due_at: dt.datetime
    late_delivery_at: dt.datetime


@dataclass(frozen=True, kw_only=True)
class ProblemReported(CaseEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class TrackingAdded(CaseEvent):
    carrier: str
    tracking_number: str
    proof: str


@dataclass(frozen=True, kw_only=True)
class RefundRecorded(CaseEvent):
    amount: Money
    refunded_total: Money
    full: bool


@dataclass(frozen=True, kw_only=True)
class EscalationAvailable(CaseEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class CaseEscalated(CaseEvent):
    by: str
    reason: str | None


@dataclass(frozen=True, kw_only=True)
class CaseClosed(CaseEvent):
    close_reason: str


@dataclass(frozen=True, kw_only=True)
class CaseReopened(CaseEvent):
    reason: str


@dataclass(frozen=True, kw_only=True)
class LateDelivery(CaseEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class SupportRefundRequested(CaseEvent):
    amount: Money
    recoup_from_seller: bool


@dataclass(frozen=True, kw_only=True)
class SellerSuspended(CaseEvent):
    reason: str


@dataclass(frozen=True, kw_only=True)
class SellerReinstatementEligible(CaseEvent):
    reason: str


@dataclass(frozen=True, kw_only=True)
class SellerReinstated(CaseEvent):
    reason: str


@dataclass(frozen=True, kw_only=True)
class ActionRejected(CaseEvent):
    action: str
    rejection: str
    source_event_id: str
    window_opens_at: dt.datetime | None = None
    window_closes_at: dt.datetime | None = None
    escalation_available_at: dt.datetime | None = None


@dataclass(frozen=True, kw_only=True)
class DecisionSuperseded(CaseEvent):
    """A published decision no longer stands: a record that arrived after it was taken
    (later than the allowed lateness) changed the order's history before it."""

    superseded_event_id: str
    superseded_type: str
    late_event_id: str
