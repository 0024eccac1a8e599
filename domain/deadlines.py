"""The time rules: what happens because time passed with nothing else happening.

- An action (or message) whose order is unknown waits for its OrderPlaced for the hold
  (rule 1); then an action is refused as `unknown_order` and a message dropped.
- Seller inactivity (rule 7): the seller has not taken part within the response time of
  the case's opening, so the platform escalates the case.
- Escalation available (rule 6): the case is still open when the buyer may escalate.
- Late delivery (rule 8): the case is still live a year after it opened.

Each fires once, dated at its deadline (not when it was noticed), so any pass over the
same moment yields the same event with the same id. They fire in time order, and at one
instant after every record of that instant.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from domain.case_events import ActionRejected, CaseEscalated, EscalationAvailable, LateDelivery
from domain.decision import Decision
from domain.order import Case, Order
from domain.policy import Policy
from domain.records import CaseAction, InboundRecord, record_type
from domain.rejections import Rejection
from domain.vocabulary import CaseState, Deadline, EscalatedBy, Rule

#: at one instant, deadlines come after every kind of record (`timeline.happened`)
DEADLINE_RANK = 9


@dataclass(frozen=True)
class Due:
    """A time rule that will fire for an order, and at what moment."""

    at: dt.datetime
    kind: Deadline
    #: the held record, for the unknown-order hold
    held: InboundRecord | None = None

    @property
    def position(self) -> tuple[dt.datetime, int, int]:
        return self.at, DEADLINE_RANK, _ORDER_AT_ONE_INSTANT[self.kind]


_ORDER_AT_ONE_INSTANT = {Deadline.UNKNOWN_ORDER: 0, Deadline.SELLER_INACTIVITY: 1,
                         Deadline.ESCALATION_AVAILABLE: 2, Deadline.LATE_DELIVERY: 3}


def pending(order: Order, policy: Policy) -> list[Due]:
    """Every time rule still to fire for the order, in the order they would fire."""
    found = [Due(h.occurred_at + policy.unknown_order_hold, Deadline.UNKNOWN_ORDER, h)
             for h in order.held]
    case = order.case
    if case is not None and case.live:
        if case.state == CaseState.OPEN and Deadline.SELLER_INACTIVITY not in case.swept:
            found.append(Due(case.seller_response_due_at(policy), Deadline.SELLER_INACTIVITY))
        if case.state == CaseState.OPEN and Deadline.ESCALATION_AVAILABLE not in case.swept:
            found.append(Due(case.escalation_available_at(policy),
                             Deadline.ESCALATION_AVAILABLE))
        if Deadline.LATE_DELIVERY not in case.swept:
            found.append(Due(case.late_delivery_at(policy), Deadline.LATE_DELIVERY))
    return sorted(found, key=lambda due: due.position)


def next_deadline(order: Order, policy: Policy) -> dt.datetime | None:
    found = pending(order, policy)
    return found[0].at if found else None


def fire(d: Decision, *, before: dt.datetime | None = None,
         through: dt.datetime | None = None) -> None:
    """Fire, in time order, every time rule due strictly before `before` or at or before
    `through`. Firing one can settle another (an inactivity escalation leaves no open case
    to make escalation available), so what is due is looked at again after each."""
    while True:
        due = pending(d.order, d.policy)
        if not due:
            return
        first = due[0]
        if (before is not None and first.at >= before) or (
                through is not None and first.at > through):
            return
        _FIRE[first.kind](d, first)
        d.order.passed(first.at, DEADLINE_RANK)


def _hold_expired(d: Decision, due: Due) -> None:
    record = due.held
    assert record is not None
    d.order.held.remove(record)
    if isinstance(record, CaseAction):
        d.emit(ActionRejected, record.event_id, Rule.UNKNOWN_ORDER, due.at,
               action=record_type(record), rejection=Rejection.UNKNOWN_ORDER,
               source_event_id=record.event_id)
    # a held message whose order never came is dropped: it asked for nothing


def _cause(case: Case, kind: Deadline) -> str:
    """A deadline's cause id: the case, the opening it counts from, and the rule."""
    return f"{case.case_id}/{case.opened_at.isoformat()}/{kind}"


def _seller_inactivity(d: Decision, due: Due) -> None:
    case = d.order.case
    assert case is not None
    case.swept.append(Deadline.SELLER_INACTIVITY)
    took_part = case.seller_took_part_at
    if took_part is None or took_part > due.at:
        case.state, case.escalated_by = CaseState.ESCALATED, EscalatedBy.PLATFORM
        d.emit(CaseEscalated, _cause(case, Deadline.SELLER_INACTIVITY), Rule.SELLER_INACTIVITY,
               due.at, by=EscalatedBy.PLATFORM, reason=Deadline.SELLER_INACTIVITY)


def _escalation_available(d: Decision, due: Due) -> None:
    case = d.order.case
    assert case is not None
    case.swept.append(Deadline.ESCALATION_AVAILABLE)
    d.emit(EscalationAvailable, _cause(case, Deadline.ESCALATION_AVAILABLE),
           Rule.ESCALATION_AVAILABLE, due.at)


def _late_delivery(d: Decision, due: Due) -> None:
    case = d.order.case
    assert case is not None
    case.swept.append(Deadline.LATE_DELIVERY)
    d.emit(LateDelivery, _cause(case, Deadline.LATE_DELIVERY), Rule.LATE_DELIVERY, due.at)


_FIRE: dict[Deadline, Callable[[Decision, Due], None]] = {
    Deadline.UNKNOWN_ORDER: _hold_expired,
    Deadline.SELLER_INACTIVITY: _seller_inactivity,
    Deadline.ESCALATION_AVAILABLE: _escalation_available,
    Deadline.LATE_DELIVERY: _late_delivery,
}
