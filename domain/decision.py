"""Taking decisions on one order: the events they publish, the records they refuse as
bad input, and the seller's standing they read or change."""

from __future__ import annotations

import datetime as dt
from bisect import insort
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

from domain.case_events import ActionRejected, CaseClosed, CaseEvent, SellerReinstatementEligible
from domain.order import Order
from domain.policy import Policy
from domain.records import CaseAction, record_type
from domain.rejections import Rejection
from domain.vocabulary import CaseState, Rule


class InvalidRecord(ValueError):
    """A well-formed record that contradicts what is known: bad input (a dead letter),
    not an action the rules refuse. Raised before anything is changed."""


@dataclass(frozen=True, order=True)
class StandingDecision:
    """Support's suspension or reinstatement of a seller, as decided at its time."""

    occurred_at: dt.datetime
    event_id: str
    suspend: bool
    reason: str
    accepted: bool


@dataclass
class SellerStanding:
    """Whether support has suspended a seller, over time: shared by all the seller's
    orders, so a case closing at some moment reads the standing of that moment."""

    seller_id: str
    decisions: list[StandingDecision] = field(default_factory=list)

    def suspension_at(self, at: dt.datetime) -> StandingDecision | None:
        """The suspension in force at `at`, if any: decided strictly before, so that at
        one instant a standing change never reaches back to another order's decision,
        whatever order the two orders are decided in."""
        current = None
        for decision in self.decisions:
            if decision.occurred_at >= at:
                break
            if decision.accepted:
                current = decision if decision.suspend else None
        return current

    @property
    def suspended(self) -> bool:
        """Whether the seller is suspended after every decision taken."""
        current = False
        for decision in self.decisions:
            if decision.accepted:
                current = decision.suspend
        return current

    @property
    def reason(self) -> str | None:
        """Why the seller is suspended, while it is."""
        last = next((d for d in reversed(self.decisions) if d.accepted), None)
        return last.reason if last is not None and last.suspend else None

    def decided(self, event_id: str) -> StandingDecision | None:
        return next((d for d in self.decisions if d.event_id == event_id), None)

    def decide(self, at: dt.datetime, event_id: str, suspend: bool,
               reason: str) -> StandingDecision:
        """Suspend or reinstate at `at`, once per request (a request decided before, for
        this order or in a pass over every seller, keeps its outcome). A reinstatement is
        refused unless the seller is suspended at that moment."""
        known = self.decided(event_id)
        if known is not None:
            return known
        accepted = suspend or self.suspension_at(at) is not None
        decision = StandingDecision(at, event_id, suspend, reason, accepted)
        insort(self.decisions, decision)
        return decision


@dataclass
class Decision:
    """Everything decided for one order in one go."""

    order: Order
    policy: Policy
    #: the standings of the sellers concerned, by id (a missing one is added, unsuspended)
    sellers: MutableMapping[str, SellerStanding]
    events: list[CaseEvent] = field(default_factory=list)
    #: records found to be bad input, by event_id, with the reason
    invalid: list[tuple[str, str]] = field(default_factory=list)

    def standing(self) -> SellerStanding | None:
        terms = self.order.terms
        if terms is None:
            return None
        return self.sellers.setdefault(terms.seller_id, SellerStanding(terms.seller_id))

    def emit(self, cls: type[CaseEvent], cause_id: str, rule: Rule, at: dt.datetime,
             **fields: Any) -> None:
        order, case = self.order, self.order.case
        self.events.append(cls(
            occurred_at=at,
            order_id=order.order_id,
            case_id=case.case_id if case else None,
            buyer_id=order.terms.buyer_id if order.terms else None,
            seller_id=order.terms.seller_id if order.terms else None,
            state=case.state if case else None,
            cause_id=cause_id,
            rule=rule,
            **fields,
        ))

    def reject(self, action: CaseAction, rejection: Rejection, rule: Rule,
               **deadlines: dt.datetime) -> None:
        self.emit(ActionRejected, action.event_id, rule, action.occurred_at,
                  action=record_type(action), rejection=rejection,
                  source_event_id=action.event_id, **deadlines)

    def close(self, reason: str, cause_id: str, rule: Rule, at: dt.datetime) -> None:
        """Close the live case; a suspended seller becomes eligible for reinstatement
        (never reinstated by the service itself)."""
        case = self.order.case
        assert case is not None
        case.state, case.close_reason = CaseState.CLOSED, reason
        self.emit(CaseClosed, cause_id, rule, at, close_reason=reason)
        standing = self.standing()
        suspension = standing.suspension_at(at) if standing else None
        if suspension is not None:
            self.emit(SellerReinstatementEligible, cause_id, Rule.SELLER_STANDING, at,
                      reason=suspension.reason or "case_closed")

    def seller_took_part(self, at: dt.datetime) -> None:
        case = self.order.case
        if case is not None and case.live and (
                case.seller_took_part_at is None or at < case.seller_took_part_at):
            case.seller_took_part_at = at
