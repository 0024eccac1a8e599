"""The buyer's actions on a case: opening (rule 1), escalating (rule 6), closing
(rule 5); each only from the order's buyer (rule 10)."""

from __future__ import annotations

from domain.case_events import CaseEscalated, CaseOpened
from domain.decision import Decision
from domain.order import Case, case_id_for
from domain.records import CaseAction, CloseCase, EscalateCase, OpenCase
from domain.rejections import Rejection
from domain.vocabulary import CaseState, CloseReason, EscalatedBy, Role, Rule


def is_buyer(d: Decision, action: CaseAction) -> bool:
    terms = d.order.terms
    assert terms is not None
    return action.actor_role == Role.BUYER and action.actor_id == terms.buyer_id


def refused_on_live_case(d: Decision, action: CaseAction, rule: Rule) -> bool:
    """Refuse the buyer's action when it is not the buyer's or there is no live case;
    whether it was refused."""
    if not is_buyer(d, action):
        d.reject(action, Rejection.NOT_ORDER_BUYER, Rule.WHO_MAY_ACT)
    elif d.order.case is None:
        d.reject(action, Rejection.NO_CASE, rule)
    elif not d.order.case.live:
        d.reject(action, Rejection.CASE_CLOSED, rule)
    else:
        return False
    return True


def open_case(d: Decision, action: OpenCase) -> None:
    order, policy = d.order, d.policy
    terms = order.terms
    assert terms is not None
    at = action.occurred_at
    if not is_buyer(d, action):
        d.reject(action, Rejection.NOT_ORDER_BUYER, Rule.WHO_MAY_ACT)
        return
    if order.cancelled:
        d.reject(action, Rejection.ORDER_CANCELLED, Rule.OPENING)
        return
    if order.case is not None:
        d.reject(action, Rejection.CASE_ALREADY_OPEN if order.case.live
                 else Rejection.CASE_CLOSED, Rule.OPENING)
        return
    if order.fully_refunded(as_of=at):
        d.reject(action, Rejection.ALREADY_REFUNDED, Rule.OPENING)
        return
    opens_at, closes_at = terms.opening_window(policy)
    if at < opens_at:
        d.reject(action, Rejection.NOT_ELIGIBLE_YET, Rule.OPENING,
                 window_opens_at=opens_at, window_closes_at=closes_at)
        return
    if at > closes_at:
        d.reject(action, Rejection.WINDOW_EXPIRED, Rule.OPENING, window_closes_at=closes_at)
        return
    case = order.case = Case(case_id=case_id_for(order.order_id), reason=action.reason,
                             state=CaseState.OPEN, opened_at=at)
    d.emit(CaseOpened, action.event_id, Rule.OPENING, at, reason=action.reason,
           escalation_available_at=case.escalation_available_at(policy),
           seller_response_due_at=case.seller_response_due_at(policy),
           late_delivery_at=case.late_delivery_at(policy))


def escalate(d: Decision, action: EscalateCase) -> None:
    if refused_on_live_case(d, action, Rule.ESCALATION):
        return
    case = d.order.case
    assert case is not None
    if case.state == CaseState.ESCALATED:
        d.reject(action, Rejection.CASE_ALREADY_OPEN, Rule.ESCALATION)
        return
    available_at = case.escalation_available_at(d.policy)
    if action.occurred_at < available_at:
        d.reject(action, Rejection.TOO_EARLY, Rule.ESCALATION,
                 escalation_available_at=available_at)
        return
    case.state, case.escalated_by = CaseState.ESCALATED, EscalatedBy.BUYER
    d.emit(CaseEscalated, action.event_id, Rule.ESCALATION, action.occurred_at,
           by=EscalatedBy.BUYER, reason=None)


def buyer_close(d: Decision, action: CloseCase) -> None:
    if refused_on_live_case(d, action, Rule.BUYER_CLOSES):
        return
    case = d.order.case
    assert case is not None
    if case.is_late(action.occurred_at, d.policy):
        d.reject(action, Rejection.LATE_DELIVERY_REQUIRES_FULL_REFUND, Rule.LATE_DELIVERY)
        return
    d.close(CloseReason.BUYER_CLOSED, action.event_id, Rule.BUYER_CLOSES, action.occurred_at)
