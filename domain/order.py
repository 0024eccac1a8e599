"""An order as this service knows it, with its case: the aggregate every rule acts on.

Each inbound record is applied to the Order it names (`Order.apply`), which changes the
order's state and returns the case events that change causes. Decisions use the record's
`occurred_at`, never a clock, so a replay decides the same way; rules that fire because
time passed are in `Order.sweep`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from domain import rejections as why
from domain.address import addresses_match
from domain.case_events import (
    ActionRejected,
    CaseClosed,
    CaseEscalated,
    CaseEvent,
    CaseOpened,
    CaseReopened,
    EscalationAvailable,
    LateDelivery,
    ProblemReported,
    RefundRecorded,
    SellerReinstated,
    SellerReinstatementEligible,
    SellerSuspended,
    SupportRefundRequested,
    TrackingAdded,
)
from domain.policy import Policy
from domain.records import (
    Address,
    AddTracking,
    CaseAction,
    CloseCase,
    EscalateCase,
    InboundRecord,
    MessageSent,
    Money,
    OpenCase,
    OrderCancelled,
    OrderPlaced,
    OrderShipped,
    PaymentCaptured,
    RefundIssued,
    SupportAction,
    TrackingUpdated,
    record_type,
)

CASE_ID_NAMESPACE = uuid.UUID("0b7e3d8c-5f1a-4e2b-9c6d-7a8b9c0d1e2f")
ALIBERBER_PAYMENTS = "aliberber_payments"

OPEN, ESCALATED, CLOSED = "open", "escalated", "closed"
LIVE_STATES = (OPEN, ESCALATED)


class InvalidRecord(ValueError):
    """A well-formed record that contradicts what is known (bad input, not a refusal)."""


def case_id_for(order_id: str) -> str:
    """One case per order, so its id follows from the order's."""
    return str(uuid.uuid5(CASE_ID_NAMESPACE, order_id))


def tracking_key(carrier: str, tracking_number: str) -> str:
    """The key of the `carrier-tracking` topic, which names one parcel."""
    return f"{carrier}:{tracking_number}"


_INSTANT = dt.timedelta(microseconds=1)


def happened(record: InboundRecord) -> tuple[dt.datetime, int]:
    """The order records happened in: by time; at the same instant, by the kind of record
    (the order's placing first), so that every arrival order sorts them alike. Records of
    one kind at one instant keep their arrival order, which their topic's partition fixes
    (sorts are stable)."""
    return record.occurred_at, _SAME_INSTANT_RANK.get(type(record), 3)


_SAME_INSTANT_RANK: dict[type, int] = {
    OrderPlaced: 0, OrderShipped: 1, OrderCancelled: 1, PaymentCaptured: 2, RefundIssued: 2,
    MessageSent: 4, TrackingUpdated: 5,  # case actions: 3
}


def _kept(record: InboundRecord) -> InboundRecord:
    """The record as the order's history keeps it: no rule reads a message's body, so
    it is not stored (personal data kept no longer than needed)."""
    if isinstance(record, MessageSent) and record.body:
        return dataclasses.replace(record, body="")
    return record


def _changes_seller_standing(record: InboundRecord) -> bool:
    return isinstance(record, SupportAction) and record.action in (
        "suspend_seller", "reinstate_seller")


def _end_of_day(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.timezone.utc)


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
class CarrierReport:
    """The latest status a carrier gave for one tracking number."""

    status: str
    occurred_at: dt.datetime
    delivered_to: Address | None = None
    #: the TrackingUpdated that said it, so an order can place it in its own history
    event_id: str = ""


@dataclass
class ProofOfShipping:
    carrier: str
    tracking_number: str
    proof: str

    @property
    def key(self) -> str:
        return tracking_key(self.carrier, self.tracking_number)


@dataclass
class MarketplaceRefund:
    amount: Money
    occurred_at: dt.datetime


@dataclass
class SellerStanding:
    """Whether support has suspended a seller; shared by all of the seller's orders."""

    seller_id: str
    suspended: bool = False
    reason: str | None = None


@dataclass
class Case:
    case_id: str
    reason: str
    state: str
    opened_at: dt.datetime
    escalated_by: str | None = None
    close_reason: str | None = None
    seller_took_part_at: dt.datetime | None = None
    proofs: list[ProofOfShipping] = field(default_factory=list)
    #: deadlines the sweeper has already acted on, so each fires once
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


@dataclass
class Order:
    order_id: str
    terms: OrderTerms | None = None
    cancelled: bool = False
    shipments: list[ProofOfShipping] = field(default_factory=list)
    #: ids of payments and refunds already counted, so none counts twice
    payment_ids: list[str] = field(default_factory=list)
    refund_ids: list[str] = field(default_factory=list)
    #: captures through the marketplace's own payments, per currency
    captured: dict[str, int] = field(default_factory=dict)
    #: refunds through the marketplace's own payments, with when they happened
    marketplace_refunds: list[MarketplaceRefund] = field(default_factory=list)
    #: records that need the order's terms and came before OrderPlaced, in arrival order
    held: list[InboundRecord] = field(default_factory=list)
    #: what the carriers said about the parcels of this order's case
    carrier_reports: dict[str, CarrierReport] = field(default_factory=dict)
    case: Case | None = None
    #: every record applied to this order, in the order they happened (`happened`), so
    #: that one arriving late is placed where it belongs (message bodies left out)
    timeline: list[InboundRecord] = field(default_factory=list)
    #: the latest moment the time rules were swept to
    swept_until: dt.datetime | None = None
    #: ids of the case events already given out, so a re-derivation gives none twice
    emitted: list[str] = field(default_factory=list)

    # ---- entry points: the order's history in the order it happened -----------------

    def apply(
        self, record: InboundRecord, policy: Policy, seller: SellerStanding | None
    ) -> list[CaseEvent]:
        """Apply one inbound record; return the case events it causes, each only once.

        `seller` is the standing of the order's seller (None while the order is unknown).
        Raises InvalidRecord, before changing anything, for a record that contradicts
        what is known.

        The state is always what deciding the order's records in the order they happened
        (`happened`) gives, each deadline (time rule) firing as soon as it passes: before
        any record that happened after it, or at the sweep that passes it when no record
        does. A record that arrives after a later one, or after a sweep past its time,
        makes the order decide its whole history again (`_refold`), so every arrival order
        ends in the same state; the events that the new history adds are returned.
        """
        self._validate(record)
        entries = sorted([_kept(record), *self._reports_to_place(record)], key=happened)
        if self._follows(entries[0]):
            events: list[CaseEvent] = []
            for entry in entries:
                events += self._fire_due(entry.occurred_at - _INSTANT, policy)
                events += self._decide(entry, policy, seller)
                self.timeline.append(entry)
        else:
            events = self._refold(entries, policy, seller)
        return self._first_time(events)

    def _validate(self, record: InboundRecord) -> None:
        if isinstance(record, OrderPlaced) and self.terms is not None:
            raise InvalidRecord("order already placed with another event_id")
        if isinstance(record, PaymentCaptured) and record.payment_id not in self.payment_ids:
            self._check_currency(record.amount)
        if isinstance(record, RefundIssued) and record.refund_id not in self.refund_ids:
            self._check_currency(record.amount)

    def _follows(self, entry: InboundRecord) -> bool:
        """Whether `entry` comes after everything already decided."""
        if self.timeline and happened(entry) < happened(self.timeline[-1]):
            return False
        return self.swept_until is None or entry.occurred_at > self.swept_until

    def _reports_to_place(self, record: InboundRecord) -> list[TrackingUpdated]:
        """A carrier's report on a parcel this record links to the case, known before the
        link (it came on `carrier-tracking` first): it enters this order's history as the
        TrackingUpdated it was, at its own time."""
        if not isinstance(record, AddTracking | OrderPlaced):
            return []  # the common case: nothing to link, no scan of the history
        actions = [record] + (self.timeline if isinstance(record, OrderPlaced) else [])
        placed = {r.event_id for r in self.timeline}
        found = []
        for action in actions:
            if not isinstance(action, AddTracking):
                continue
            key = tracking_key(action.carrier, action.tracking_number)
            report = self.carrier_reports.get(key)
            if report is not None and report.event_id and report.event_id not in placed:
                placed.add(report.event_id)
                found.append(TrackingUpdated(
                    event_id=report.event_id, occurred_at=report.occurred_at,
                    carrier=action.carrier, tracking_number=action.tracking_number,
                    status=report.status, delivered_to=report.delivered_to))
        return found

    def _refold(self, entries: list[InboundRecord], policy: Policy,
                seller: SellerStanding | None) -> list[CaseEvent]:
        """Decide the whole history again, `entries` included, in the order it happened."""
        arriving = {e.event_id for e in entries}
        undecided = arriving | {h.event_id for h in self.held}  # held: never decided yet
        fresh = Order(self.order_id, timeline=sorted(self.timeline + entries, key=happened),
                      swept_until=self.swept_until, emitted=self.emitted)
        events: list[CaseEvent] = []
        for entry in fresh.timeline:
            events += fresh._fire_due(entry.occurred_at - _INSTANT, policy)
            if entry.event_id not in undecided and _changes_seller_standing(entry):
                continue  # decided once, when it arrived: the standing is shared
            try:
                fresh._validate(entry)
            except InvalidRecord:
                if entry.event_id in arriving:
                    raise
                continue  # accepted before the order's terms were known
            events += fresh._decide(entry, policy, seller)
        if fresh.swept_until is not None:
            events += fresh._fire_due(fresh.swept_until, policy)
        self.__dict__.update(fresh.__dict__)
        return events

    def _first_time(self, events: list[CaseEvent]) -> list[CaseEvent]:
        fresh = []
        for event in events:
            if event.event_id not in self.emitted:
                self.emitted.append(event.event_id)
                fresh.append(event)
        return fresh

    def _decide(
        self, record: InboundRecord, policy: Policy, seller: SellerStanding | None
    ) -> list[CaseEvent]:
        """Apply one record to the state as it is (its place in time is the caller's)."""
        if isinstance(record, OrderPlaced):
            return self._place(record, policy, seller)
        if isinstance(record, OrderCancelled):
            self.cancelled = True
            return []
        if isinstance(record, OrderShipped):
            self.shipments.append(
                ProofOfShipping(record.carrier, record.tracking_number, "tracking"))
            return []
        if isinstance(record, PaymentCaptured):
            return self._capture(record, seller)
        if isinstance(record, RefundIssued):
            return self._refund(record, seller)
        if isinstance(record, TrackingUpdated):
            return self._carrier_report(record, seller)
        if self.terms is None:
            self.held.append(record)
            return []
        seller = seller or SellerStanding(self.terms.seller_id)
        if isinstance(record, MessageSent):
            return self._message(record)
        if isinstance(record, CaseAction):
            return self._act(record, policy, seller)
        raise TypeError(f"no rule for {record_type(record)}")

    # ---- helpers ---------------------------------------------------------------------

    def _event(self, cls: type[CaseEvent], cause_id: str, rule: str, at: dt.datetime,
               **fields: Any) -> CaseEvent:
        case = self.case
        return cls(
            occurred_at=at,
            order_id=self.order_id,
            case_id=case.case_id if case else None,
            buyer_id=self.terms.buyer_id if self.terms else None,
            seller_id=self.terms.seller_id if self.terms else None,
            state=case.state if case else None,
            cause_id=cause_id,
            rule=rule,
            **fields,
        )

    def _reject(self, action: CaseAction, rejection: str, rule: str,
                **deadlines: dt.datetime) -> list[CaseEvent]:
        return [self._event(ActionRejected, action.event_id, rule, action.occurred_at,
                            action=record_type(action), rejection=rejection,
                            source_event_id=action.event_id, **deadlines)]

    def _close(self, reason: str, cause_id: str, rule: str, at: dt.datetime,
               seller: SellerStanding | None) -> list[CaseEvent]:
        assert self.case is not None
        self.case.state = CLOSED
        self.case.close_reason = reason
        events = [self._event(CaseClosed, cause_id, rule, at, close_reason=reason)]
        if seller is not None and seller.suspended:
            events.append(self._event(SellerReinstatementEligible, cause_id,
                                      "rule-9 seller standing", at,
                                      reason=seller.reason or "case_closed"))
        return events

    def _seller_took_part(self, at: dt.datetime) -> None:
        case = self.case
        if case is not None and case.live and (
                case.seller_took_part_at is None or at < case.seller_took_part_at):
            case.seller_took_part_at = at

    # ---- orders ------------------------------------------------------------------------

    def _place(self, placed: OrderPlaced, policy: Policy,
               seller: SellerStanding | None) -> list[CaseEvent]:
        if self.terms is not None:
            raise InvalidRecord("order already placed with another event_id")
        self.terms = OrderTerms(
            buyer_id=placed.buyer_id, seller_id=placed.seller_id, total=placed.total,
            payment_method=placed.payment_method, shipping_address=placed.shipping_address,
            placed_at=placed.occurred_at, ship_by=placed.ship_by,
            estimated_delivery=placed.estimated_delivery,
        )
        seller = seller or SellerStanding(placed.seller_id)
        held, self.held = self.held, []
        events: list[CaseEvent] = []
        for record in held:
            events += self._decide(record, policy, seller)
        return events

    # ---- payments (rule 4) -----------------------------------------------------------

    def _check_currency(self, amount: Money) -> None:
        if self.terms is not None and amount.currency != self.terms.total.currency:
            raise InvalidRecord(
                f"currency {amount.currency} differs from the order's "
                f"{self.terms.total.currency}")

    def refund_target(self) -> Money | None:
        """What a full refund through the marketplace's payments must reach: the amount
        captured through them, or the order's total where no capture has been seen."""
        if self.terms is None:
            return None
        currency = self.terms.total.currency
        captured = self.captured.get(currency, 0)
        return Money(captured, currency) if captured else self.terms.total

    def refunded_total(self, as_of: dt.datetime | None = None) -> Money | None:
        """What the marketplace's payments refunded (up to `as_of`, if given)."""
        if self.terms is None:
            return None
        currency = self.terms.total.currency
        return Money(sum(r.amount.amount_minor for r in self.marketplace_refunds
                         if r.amount.currency == currency
                         and (as_of is None or r.occurred_at <= as_of)), currency)

    def fully_refunded(self, as_of: dt.datetime | None = None) -> bool:
        target, refunded = self.refund_target(), self.refunded_total(as_of)
        if target is None or refunded is None:
            return False
        return refunded.amount_minor >= target.amount_minor

    def _capture(self, payment: PaymentCaptured,
                 seller: SellerStanding | None) -> list[CaseEvent]:
        if payment.payment_id in self.payment_ids:
            return []
        self._check_currency(payment.amount)
        self.payment_ids.append(payment.payment_id)
        if payment.provider != ALIBERBER_PAYMENTS:
            return []
        currency = payment.amount.currency
        self.captured[currency] = self.captured.get(currency, 0) + payment.amount.amount_minor
        # a capture seen after the refunds can make them complete
        if self.case is not None and self.case.live and self.fully_refunded():
            return self._close("full_refund", payment.event_id, "rule-4 full refund",
                               payment.occurred_at, seller)
        return []

    def _refund(self, refund: RefundIssued, seller: SellerStanding | None) -> list[CaseEvent]:
        if refund.refund_id in self.refund_ids:
            return []
        self._check_currency(refund.amount)
        self.refund_ids.append(refund.refund_id)
        if refund.initiated_by == "seller":
            self._seller_took_part(refund.occurred_at)
        if refund.provider != ALIBERBER_PAYMENTS:
            return []  # refunds through other providers never close a case
        self.marketplace_refunds.append(MarketplaceRefund(refund.amount, refund.occurred_at))
        if self.case is None or not self.case.live:
            return []
        full = self.fully_refunded()
        refunded_total = self.refunded_total()
        events = [self._event(RefundRecorded, refund.event_id, "rule-4 refund",
                              refund.occurred_at, amount=refund.amount,
                              refunded_total=refunded_total, full=full)]
        if full:
            events += self._close("full_refund", refund.event_id, "rule-4 full refund",
                                  refund.occurred_at, seller)
        return events

    # ---- messages (rule 2) -----------------------------------------------------------

    def _message(self, message: MessageSent) -> list[CaseEvent]:
        assert self.terms is not None
        if message.sender_role == "seller" and message.sender_id == self.terms.seller_id:
            self._seller_took_part(message.occurred_at)
            return []
        if (message.kind == "problem_report" and message.sender_role == "buyer"
                and message.sender_id == self.terms.buyer_id):
            return [self._event(ProblemReported, message.event_id, "rule-2 problem report",
                                message.occurred_at)]
        return []

    # ---- proof of shipping (rule 3) --------------------------------------------------

    def _carrier_report(self, update: TrackingUpdated,
                        seller: SellerStanding | None) -> list[CaseEvent]:
        key = tracking_key(update.carrier, update.tracking_number)
        known = self.carrier_reports.get(key)
        if known is not None and known.occurred_at > update.occurred_at:
            return []  # an older status than the one we have
        self.carrier_reports[key] = CarrierReport(update.status, update.occurred_at,
                                                  update.delivered_to, update.event_id)
        return self._close_if_delivered(update.event_id, update.occurred_at, seller)

    def _close_if_delivered(self, cause_id: str, at: dt.datetime,
                            seller: SellerStanding | None) -> list[CaseEvent]:
        """Close a live non-delivery case whose tracking shows delivery to the buyer."""
        case, terms = self.case, self.terms
        if case is None or terms is None or not case.live or case.reason != "non_delivery":
            return []
        for proof in case.proofs:
            report = self.carrier_reports.get(proof.key)
            # a report from after `at` is decided at its own time (see `apply`)
            if (report is not None and report.status == "delivered"
                    and report.occurred_at <= at
                    and report.delivered_to is not None
                    and addresses_match(report.delivered_to, terms.shipping_address)):
                return self._close("delivered", cause_id, "rule-3 proof of delivery", at,
                                   seller)
        return []

    # ---- case actions (rules 1, 3, 5, 6, 8, 9, 10) -------------------------------------

    def _act(self, action: CaseAction, policy: Policy,
             seller: SellerStanding) -> list[CaseEvent]:
        if isinstance(action, OpenCase):
            return self._open(action, policy, seller)
        if isinstance(action, AddTracking):
            return self._add_tracking(action, seller)
        if isinstance(action, EscalateCase):
            return self._escalate(action, policy)
        if isinstance(action, CloseCase):
            return self._buyer_close(action, policy, seller)
        if isinstance(action, SupportAction):
            return self._support(action, policy, seller)
        raise TypeError(f"no rule for {record_type(action)}")

    def _is_buyer(self, action: CaseAction) -> bool:
        assert self.terms is not None
        return action.actor_role == "buyer" and action.actor_id == self.terms.buyer_id

    def _buyer_live_case_refusal(self, action: CaseAction,
                                 rule: str) -> list[CaseEvent] | None:
        """Why the buyer's action on the case is refused before its own rule, if it is."""
        if not self._is_buyer(action):
            return self._reject(action, why.NOT_ORDER_BUYER, "rule-10 who may act")
        return self._live_case_refusal(action, rule)

    def _live_case_refusal(self, action: CaseAction, rule: str) -> list[CaseEvent] | None:
        if self.case is None:
            return self._reject(action, why.NO_CASE, rule)
        if not self.case.live:
            return self._reject(action, why.CASE_CLOSED, rule)
        return None

    def _open(self, action: OpenCase, policy: Policy,
              seller: SellerStanding) -> list[CaseEvent]:
        rule = "rule-1 opening"
        assert self.terms is not None
        if not self._is_buyer(action):
            return self._reject(action, why.NOT_ORDER_BUYER, "rule-10 who may act")
        if self.cancelled:
            return self._reject(action, why.ORDER_CANCELLED, rule)
        if self.case is not None:
            code = why.CASE_ALREADY_OPEN if self.case.live else why.CASE_CLOSED
            return self._reject(action, code, rule)
        if self.fully_refunded(as_of=action.occurred_at):
            return self._reject(action, why.ALREADY_REFUNDED, rule)
        opens_at, closes_at = self.terms.opening_window(policy)
        if action.occurred_at < opens_at:
            return self._reject(action, why.NOT_ELIGIBLE_YET, rule,
                                window_opens_at=opens_at, window_closes_at=closes_at)
        if action.occurred_at > closes_at:
            return self._reject(action, why.WINDOW_EXPIRED, rule, window_closes_at=closes_at)
        self.case = Case(case_id=case_id_for(self.order_id), reason=action.reason,
                         state=OPEN, opened_at=action.occurred_at)
        return [self._event(
            CaseOpened, action.event_id, rule, action.occurred_at, reason=action.reason,
            escalation_available_at=self.case.escalation_available_at(policy),
            seller_response_due_at=self.case.seller_response_due_at(policy),
            late_delivery_at=self.case.late_delivery_at(policy),
        )]

    def _add_tracking(self, action: AddTracking, seller: SellerStanding) -> list[CaseEvent]:
        rule = "rule-3 proof of shipping"
        assert self.terms is not None
        if action.actor_role != "seller" or action.actor_id != self.terms.seller_id:
            return self._reject(action, why.NOT_ORDER_SELLER, "rule-10 who may act")
        refusal = self._live_case_refusal(action, rule)
        if refusal is not None:
            return refusal
        assert self.case is not None
        proof = ProofOfShipping(action.carrier, action.tracking_number, action.proof)
        if proof not in self.case.proofs:
            self.case.proofs.append(proof)
        self._seller_took_part(action.occurred_at)
        events = [self._event(TrackingAdded, action.event_id, rule, action.occurred_at,
                              carrier=action.carrier, tracking_number=action.tracking_number,
                              proof=action.proof)]
        return events + self._close_if_delivered(action.event_id, action.occurred_at, seller)

    def _escalate(self, action: EscalateCase, policy: Policy) -> list[CaseEvent]:
        rule = "rule-6 escalation"
        refusal = self._buyer_live_case_refusal(action, rule)
        if refusal is not None:
            return refusal
        assert self.case is not None
        if self.case.state == ESCALATED:
            return self._reject(action, why.CASE_ALREADY_OPEN, rule)
        available_at = self.case.escalation_available_at(policy)
        if action.occurred_at < available_at:
            return self._reject(action, why.TOO_EARLY, rule,
                                escalation_available_at=available_at)
        self.case.state = ESCALATED
        self.case.escalated_by = "buyer"
        return [self._event(CaseEscalated, action.event_id, rule, action.occurred_at,
                            by="buyer", reason=None)]

    def _buyer_close(self, action: CloseCase, policy: Policy,
                     seller: SellerStanding) -> list[CaseEvent]:
        rule = "rule-5 buyer closes"
        refusal = self._buyer_live_case_refusal(action, rule)
        if refusal is not None:
            return refusal
        assert self.case is not None
        if self.case.is_late(action.occurred_at, policy):
            return self._reject(action, why.LATE_DELIVERY_REQUIRES_FULL_REFUND,
                                "rule-8 late delivery")
        return self._close("buyer_closed", action.event_id, rule, action.occurred_at, seller)

    def _support(self, action: SupportAction, policy: Policy,
                 seller: SellerStanding) -> list[CaseEvent]:
        rule = f"rule-9 support {action.action}"
        if action.actor_role != "support":
            return self._reject(action, why.NOT_SUPPORT, "rule-10 who may act")
        at = action.occurred_at
        if action.action == "suspend_seller":
            seller.suspended, seller.reason = True, action.reason
            return [self._event(SellerSuspended, action.event_id, rule, at,
                                reason=action.reason)]
        if action.action == "reinstate_seller":
            if not seller.suspended:
                return self._reject(action, why.SELLER_NOT_SUSPENDED, rule)
            seller.suspended, seller.reason = False, None
            return [self._event(SellerReinstated, action.event_id, rule, at,
                                reason=action.reason)]
        case = self.case
        if case is None:
            return self._reject(action, why.NO_CASE, rule)
        if action.action == "reopen":
            if case.live:
                return self._reject(action, why.CASE_ALREADY_OPEN, rule)
            case.state, case.close_reason = ESCALATED, None
            case.escalated_by = "platform"
            return [self._event(CaseReopened, action.event_id, rule, at, reason=action.reason)]
        if not case.live:
            return self._reject(action, why.CASE_CLOSED, rule)
        if action.action == "escalate":
            if case.state == ESCALATED:
                return self._reject(action, why.CASE_ALREADY_OPEN, rule)
            case.state, case.escalated_by = ESCALATED, "platform"
            return [self._event(CaseEscalated, action.event_id, "rule-7 early escalation", at,
                                by="platform", reason=action.reason)]
        if case.state != ESCALATED:
            return self._reject(action, why.NOT_ESCALATED, rule)
        if action.action == "refund_and_recoup":
            target, refunded = self.refund_target(), self.refunded_total()
            assert target is not None and refunded is not None and self.terms is not None
            outstanding = target.amount_minor - refunded.amount_minor
            if outstanding <= 0:
                return self._reject(action, why.ALREADY_REFUNDED, rule)
            return [self._event(
                SupportRefundRequested, action.event_id, rule, at,
                amount=Money(outstanding, target.currency),
                recoup_from_seller=self.terms.payment_method == ALIBERBER_PAYMENTS)]
        if action.action == "close":
            if case.is_late(at, policy):
                return self._reject(action, why.LATE_DELIVERY_REQUIRES_FULL_REFUND,
                                    "rule-8 late delivery")
            return self._close("support_closed", action.event_id, rule, at, seller)
        raise TypeError(f"no rule for support action {action.action}")

    # ---- time rules (sweeper) ----------------------------------------------------------

    def due_at(self, policy: Policy) -> dt.datetime | None:
        """The next moment at which `sweep` has something to do, or None."""
        moments = [h.occurred_at + policy.unknown_order_hold for h in self.held]
        case = self.case
        if case is not None and case.live:
            if case.state == OPEN and "seller_inactivity" not in case.swept:
                moments.append(case.seller_response_due_at(policy))
            if case.state == OPEN and "escalation_available" not in case.swept:
                moments.append(case.escalation_available_at(policy))
            if "late_delivery" not in case.swept:
                moments.append(case.late_delivery_at(policy))
        return min(moments, default=None)

    def sweep(self, now: dt.datetime, policy: Policy) -> list[CaseEvent]:
        """Fire every time rule that is due at `now`; each fires once per case.

        Each event is dated at its deadline, not at `now`, so any sweep of the same
        deadline yields the same event. A deadline that falls before records already
        decided is placed before them: the history is decided again (see `apply`).
        """
        due = self.due_at(policy)
        self.swept_until = max(now, self.swept_until or now)
        if due is None or due > now:
            return []
        if self.timeline and due <= self.timeline[-1].occurred_at:
            return self._first_time(self._refold([], policy, None))
        return self._first_time(self._fire_due(now, policy))

    def _fire_due(self, now: dt.datetime, policy: Policy) -> list[CaseEvent]:
        events: list[CaseEvent] = []
        still_held: list[InboundRecord] = []
        for record in self.held:
            deadline = record.occurred_at + policy.unknown_order_hold
            if deadline > now:
                still_held.append(record)
            elif isinstance(record, CaseAction):
                events.append(self._event(
                    ActionRejected, record.event_id, "rule-1 unknown order", deadline,
                    action=record_type(record), rejection=why.UNKNOWN_ORDER,
                    source_event_id=record.event_id))
            # a held message whose order never came is dropped: it asked for nothing
        self.held = still_held
        case = self.case
        if case is None or not case.live:
            return events
        cause = f"{case.case_id}/{case.opened_at.isoformat()}"
        due = case.seller_response_due_at(policy)
        if case.state == OPEN and "seller_inactivity" not in case.swept and due <= now:
            case.swept.append("seller_inactivity")
            took_part = case.seller_took_part_at
            if took_part is None or took_part > due:
                case.state, case.escalated_by = ESCALATED, "platform"
                events.append(self._event(CaseEscalated, f"{cause}/seller_inactivity",
                                          "rule-7 seller inactivity", due, by="platform",
                                          reason="seller_inactivity"))
        available = case.escalation_available_at(policy)
        if case.state == OPEN and "escalation_available" not in case.swept and available <= now:
            case.swept.append("escalation_available")
            events.append(self._event(EscalationAvailable, f"{cause}/escalation_available",
                                      "rule-6 escalation available", available))
        late = case.late_delivery_at(policy)
        if "late_delivery" not in case.swept and late <= now:
            case.swept.append("late_delivery")
            events.append(self._event(LateDelivery, f"{cause}/late_delivery",
                                      "rule-8 late delivery", late))
        return events
