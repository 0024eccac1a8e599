"""Support's actions (rule 9), only with the support role (rule 10): escalate early,
refund and recoup, close, reopen, and suspend or reinstate a seller.

A seller's standing is shared by all the seller's orders, so a suspension or a
reinstatement is decided once for the seller, at its time (`SellerStanding.decide`),
and its order only publishes the outcome.
"""

from __future__ import annotations

from collections.abc import Callable

from domain.case_events import (
    CaseEscalated,
    CaseReopened,
    SellerReinstated,
    SellerSuspended,
    SupportRefundRequested,
)
from domain.decision import Decision, SellerStanding
from domain.order import Case
from domain.records import Money, SupportAction
from domain.rejections import Rejection
from domain.vocabulary import (
    STANDING_ACTIONS,
    SUPPORT_RULES,
    CaseState,
    CloseReason,
    EscalatedBy,
    Provider,
    Role,
    Rule,
    SupportActionKind,
)


def decide_standing(standing: SellerStanding, action: SupportAction) -> None:
    """A suspension or reinstatement, decided for the seller at its time, before the
    orders of a pass are (their cases read the standing of their moments). A request not
    from support changes nothing: its order refuses it (rule 10)."""
    if action.actor_role != Role.SUPPORT or action.action not in STANDING_ACTIONS:
        return
    standing.decide(action.occurred_at, action.event_id,
                    action.action == SupportActionKind.SUSPEND_SELLER, action.reason)


def support_action(d: Decision, action: SupportAction) -> None:
    if action.actor_role != Role.SUPPORT:
        d.reject(action, Rejection.NOT_SUPPORT, Rule.WHO_MAY_ACT)
        return
    kind = SupportActionKind(action.action)
    if kind in _STANDING:
        _STANDING[kind](d, action)
        return
    case = d.order.case
    rule = SUPPORT_RULES[kind]
    if case is None:
        d.reject(action, Rejection.NO_CASE, rule)
    elif kind == SupportActionKind.REOPEN:
        _reopen(d, action, case)
    elif not case.live:
        d.reject(action, Rejection.CASE_CLOSED, rule)
    elif kind == SupportActionKind.ESCALATE:
        _escalate(d, action, case)
    elif case.state != CaseState.ESCALATED:
        d.reject(action, Rejection.NOT_ESCALATED, rule)
    else:
        _ON_ESCALATED_CASE[kind](d, action, case)


def _suspend(d: Decision, action: SupportAction) -> None:
    standing = d.standing()
    assert standing is not None
    standing.decide(action.occurred_at, action.event_id, True, action.reason)
    d.emit(SellerSuspended, action.event_id, Rule.SUPPORT_SUSPEND_SELLER, action.occurred_at,
           reason=action.reason)


def _reinstate(d: Decision, action: SupportAction) -> None:
    standing = d.standing()
    assert standing is not None
    outcome = standing.decide(action.occurred_at, action.event_id, False, action.reason)
    if outcome.accepted:
        d.emit(SellerReinstated, action.event_id, Rule.SUPPORT_REINSTATE_SELLER,
               action.occurred_at, reason=action.reason)
    else:
        d.reject(action, Rejection.SELLER_NOT_SUSPENDED, Rule.SUPPORT_REINSTATE_SELLER)


def _reopen(d: Decision, action: SupportAction, case: Case) -> None:
    if case.live:
        d.reject(action, Rejection.CASE_ALREADY_OPEN, Rule.SUPPORT_REOPEN)
        return
    case.state, case.close_reason = CaseState.ESCALATED, None
    case.escalated_by = EscalatedBy.PLATFORM
    d.emit(CaseReopened, action.event_id, Rule.SUPPORT_REOPEN, action.occurred_at,
           reason=action.reason)


def _escalate(d: Decision, action: SupportAction, case: Case) -> None:
    if case.state == CaseState.ESCALATED:
        d.reject(action, Rejection.CASE_ALREADY_OPEN, Rule.SUPPORT_ESCALATE)
        return
    case.state, case.escalated_by = CaseState.ESCALATED, EscalatedBy.PLATFORM
    d.emit(CaseEscalated, action.event_id, Rule.EARLY_ESCALATION, action.occurred_at,
           by=EscalatedBy.PLATFORM, reason=action.reason)


def _refund_and_recoup(d: Decision, action: SupportAction, _case: Case) -> None:
    order = d.order
    target, refunded, terms = order.refund_target(), order.refunded_total(), order.terms
    assert target is not None and refunded is not None and terms is not None
    outstanding = target.amount_minor - refunded.amount_minor
    if outstanding <= 0:
        d.reject(action, Rejection.ALREADY_REFUNDED, Rule.SUPPORT_REFUND_AND_RECOUP)
        return
    d.emit(SupportRefundRequested, action.event_id, Rule.SUPPORT_REFUND_AND_RECOUP,
           action.occurred_at, amount=Money(outstanding, target.currency),
           recoup_from_seller=terms.payment_method == Provider.ALIBERBER_PAYMENTS)


def _close(d: Decision, action: SupportAction, case: Case) -> None:
    if case.is_late(action.occurred_at, d.policy):
        d.reject(action, Rejection.LATE_DELIVERY_REQUIRES_FULL_REFUND, Rule.LATE_DELIVERY)
        return
    d.close(CloseReason.SUPPORT_CLOSED, action.event_id, Rule.SUPPORT_CLOSE,
            action.occurred_at)


_STANDING: dict[SupportActionKind, Callable[[Decision, SupportAction], None]] = {
    SupportActionKind.SUSPEND_SELLER: _suspend,
    SupportActionKind.REINSTATE_SELLER: _reinstate,
}
_ON_ESCALATED_CASE: dict[SupportActionKind, Callable[[Decision, SupportAction, Case], None]] = {
    SupportActionKind.REFUND_AND_RECOUP: _refund_and_recoup,
    SupportActionKind.CLOSE: _close,
}
