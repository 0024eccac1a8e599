"""An order as this service knows it, with its case: the state the rules read and change.

The rules live by concern beside it (`placing`, `payments`, `tracking`, `messages`,
`case_actions`, `support`, `deadlines`); `timeline` decides an order's records in the
order they happened. Nothing here knows a database, a broker or a clock.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from domain.ids import name_based_id
from domain.parcel import CarrierReport, Parcel, ParcelStatus
from domain.policy import Policy
from domain.records import Address, InboundRecord, Money
from domain.vocabulary import LIVE_STATES, CaseState, Provider

CASE_ID_NAMESPACE = uuid.UUID("0b7e3d8c-5f1a-4e2b-9c6d-7a8b9c0d1e2f")


def case_id_for(order_id: str) -> str:
    """One case per order, so its id follows from the order's."""
    return name_based_id(CASE_ID_NAMESPACE, order_id)


def _end_of_day(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


@dataclass
class OrderTerms:
    """What OrderPlaced said about the order."""

    buyer_id: str
    seller_id: str
    total: Money
    payment_method: str
    shipping_address: Address
    placed_at: dt.datetime
    ship_by: dt.date | None = None
    estimated_delivery: dt.date | None = None

    def opening_window(self, policy: Policy) -> tuple[dt.datetime, dt.datetime]:
        """When a buyer may open a case: from the end of the estimated delivery date (or of
        the ship-by date, or from placing the order) for the policy's window."""
        if self.estimated_delivery is not None:
            start = _end_of_day(self.estimated_delivery)
        elif self.ship_by is not None:
            start = _end_of_day(self.ship_by)
        else:
            start = self.placed_at
        return start, start + policy.opening_window


@dataclass
class ProofOfShipping:
    carrier: str
    tracking_number: str
    proof: str

    @property
    def parcel(self) -> Parcel:
        return Parcel(self.carrier, self.tracking_number)


@dataclass
class Payment:
    """A capture, counted once by its payment_id."""

    payment_id: str
    event_id: str
    amount: Money
    provider: str


@dataclass
class Refund:
    """A refund, counted once by its refund_id."""

    refund_id: str
    event_id: str
    amount: Money
    provider: str
    occurred_at: dt.datetime


@dataclass
class Case:
    case_id: str
    reason: str
    state: CaseState
    opened_at: dt.datetime
    escalated_by: str | None = None
    close_reason: str | None = None
    seller_took_part_at: dt.datetime | None = None
    proofs: list[ProofOfShipping] = field(default_factory=list)
    #: the time rules already decided for this case, so each is decided once
    swept: list[str] = field(default_factory=list)

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES

    def escalation_available_at(self, policy: Policy) -> dt.datetime:
        return self.opened_at + policy.escalation_after

    def seller_response_due_at(self, policy: Policy) -> dt.datetime:
        return self.opened_at + policy.seller_response_time

    def late_delivery_at(self, policy: Policy) -> dt.datetime:
        return self.opened_at + policy.late_delivery_after

    def is_late(self, at: dt.datetime, policy: Policy) -> bool:
        return at >= self.late_delivery_at(policy)

    def names(self, parcel: Parcel) -> bool:
        return any(proof.parcel == parcel for proof in self.proofs)


@dataclass
class Order:
    order_id: str
    terms: OrderTerms | None = None
    #: the OrderPlaced that gave the terms (a second one is bad input)
    placed_by: str = ""
    cancelled: bool = False
    #: what OrderShipped said (no rule reads it; `cases show` does)
    shipments: list[ProofOfShipping] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)
    #: records that need the order's terms, decided before OrderPlaced was read: they
    #: wait for it until the hold runs out (`deadlines`)
    held: list[InboundRecord] = field(default_factory=list)
    #: the latest carrier report of each parcel this order's case names or will name
    parcels: list[ParcelStatus] = field(default_factory=list)
    case: Case | None = None
    #: how far in event time the order's history is decided: the time and same-instant
    #: rank (`timeline.happened`) of the last record decided or deadline passed. A record
    #: that happened before it arrived too late to be decided in its place.
    decided_through: dt.datetime | None = None
    decided_rank: int = 0

    def passed(self, at: dt.datetime, rank: int) -> None:
        """The history is decided up to this moment (and same-instant rank)."""
        if self.decided_through is None or (at, rank) > (self.decided_through,
                                                          self.decided_rank):
            self.decided_through, self.decided_rank = at, rank

    def is_late(self, at: dt.datetime, rank: int) -> bool:
        """Whether a record of this moment and rank comes before what is decided."""
        return self.decided_through is not None and (at, rank) < (self.decided_through,
                                                                  self.decided_rank)

    # ---- money (rule 4) --------------------------------------------------------------

    @property
    def currency(self) -> str | None:
        return self.terms.total.currency if self.terms else None

    def paid(self) -> int:
        """Everything captured for the order, by any provider, in its currency."""
        return sum(p.amount.amount_minor for p in self.payments
                   if p.amount.currency == self.currency)

    def refunded_all(self) -> int:
        """Everything refunded for the order, by any provider, in its currency."""
        return sum(r.amount.amount_minor for r in self.refunds
                   if r.amount.currency == self.currency)

    def refund_target(self) -> Money | None:
        """What a full refund through the marketplace's payments must reach: the amount
        captured through them, or the order's total where no capture has been seen."""
        if self.terms is None:
            return None
        captured = sum(p.amount.amount_minor for p in self.payments
                       if p.provider == Provider.ALIBERBER_PAYMENTS
                       and p.amount.currency == self.currency)
        return Money(captured, self.terms.total.currency) if captured else self.terms.total

    def refunded_total(self, as_of: dt.datetime | None = None) -> Money | None:
        """What the marketplace's payments refunded (up to `as_of`, if given)."""
        if self.terms is None:
            return None
        currency = self.terms.total.currency
        return Money(sum(r.amount.amount_minor for r in self.refunds
                         if r.provider == Provider.ALIBERBER_PAYMENTS
                         and r.amount.currency == currency
                         and (as_of is None or r.occurred_at <= as_of)), currency)

    def fully_refunded(self, as_of: dt.datetime | None = None) -> bool:
        target, refunded = self.refund_target(), self.refunded_total(as_of)
        if target is None or refunded is None:
            return False
        return refunded.amount_minor >= target.amount_minor

    # ---- parcels (rule 3) ------------------------------------------------------------

    def report_for(self, parcel: Parcel) -> CarrierReport | None:
        for status in self.parcels:
            if status.parcel == parcel:
                return status.report
        return None

    def keep_report(self, parcel: Parcel, report: CarrierReport) -> bool:
        """Keep `report` as the parcel's latest unless a newer one is known (at one
        instant the later arrival wins); whether it was kept."""
        for status in self.parcels:
            if status.parcel == parcel:
                if status.report.occurred_at > report.occurred_at:
                    return False
                status.report = report
                return True
        self.parcels.append(ParcelStatus(parcel.carrier, parcel.tracking_number, report))
        return True

    def tracked_parcels(self) -> set[Parcel]:
        """The parcels whose carrier reports the rules may need: those the case names."""
        return {proof.parcel for proof in self.case.proofs} if self.case else set()
