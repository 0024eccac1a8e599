"""The sweeper's decisions: everything the watermark has passed, each order's records
and time rules in the order they happened.

A pass runs up to a moment (`until`, the watermark; `cases sweep --now` for operators)
and touches only the orders with something to decide: a record not decided yet, a time
rule due, or a new carrier report on a parcel their case names. Each is decided where it
stands (`timeline.advance`), unless a record arrived after the order's history had been
decided past its time: then the whole history is decided again and what differs from
what was published is published (`domain.revisions`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

import structlog

from domain import support
from domain.case_events import CaseEvent, DecisionSuperseded
from domain.decision import SellerStanding
from domain.order import Order
from domain.parcel import CarrierReport, Parcel
from domain.policy import Policy
from domain.records import AddTracking, SupportAction, TrackingUpdated
from domain.revisions import revise
from domain.timeline import advance, happened, is_late, redecide
from domain.vocabulary import Rule
from service.unit_of_work import (
    SWEEPER_TOPIC,
    Cause,
    DecideUnitOfWork,
    RecordedEvent,
    Refused,
    Report,
    Stored,
)

log = structlog.get_logger("sweeper")

#: orders per transaction
CHUNK = 500


@dataclass
class PassReport:
    until: dt.datetime | None = None
    orders: int = 0
    records: int = 0
    events: int = 0
    #: orders whose history was decided again for a record that came too late
    late_orders: int = 0
    superseded: int = 0
    refused: int = 0
    standing: int = 0
    deadlines: dict[str, int] = field(default_factory=dict)
    #: records that came too late, by topic
    late: dict[str, int] = field(default_factory=dict)
    #: carrier reports taken in but left undecided (by event_id, with the orders that
    #: took them in): another order whose case names their parcel is in another chunk
    reports_left: dict[str, set[str]] = field(default_factory=dict)

    def add(self, other: PassReport) -> None:
        for name in ("orders", "records", "events", "late_orders", "superseded", "refused",
                     "standing"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for rule, count in other.deadlines.items():
            self.deadlines[rule] = self.deadlines.get(rule, 0) + count
        for topic, count in other.late.items():
            self.late[topic] = self.late.get(topic, 0) + count
        for event_id, orders in other.reports_left.items():
            self.reports_left.setdefault(event_id, set()).update(orders)


Units = Callable[[], AbstractContextManager[DecideUnitOfWork]]


def decide_until(units: Units, until: dt.datetime, policy: Policy,
                 chunk: int = CHUNK) -> PassReport:
    """One pass: everything due by `until`, `chunk` orders per transaction."""
    report = PassReport(until=until)
    with units() as uow:
        report.standing = decide_standing(uow, until)
    with units() as uow:
        work = uow.work(until)
    for start in range(0, len(work.order_ids), chunk):
        with units() as uow:
            report.add(decide_orders(uow, work.order_ids[start:start + chunk], until,
                                     policy))
    if report.reports_left:
        # Decided once every order naming the parcel has taken them in this pass; one
        # that came in after its order's chunk is still undecided for it: late, next pass.
        with units() as uow:
            uow.reports_decided(report.reports_left)
        report.reports_left = {}
    return report


def decide_standing(uow: DecideUnitOfWork, until: dt.datetime) -> int:
    """Support's suspensions and reinstatements first, across every seller in time
    order: a standing is shared by all of a seller's orders, and a case closing later
    in the same pass must read it as it stood then."""
    pending = uow.undecided_standing(until)
    if not pending:
        return 0
    sellers = uow.lock_sellers({seller_id for seller_id, _ in pending})
    for seller_id, stored in sorted(pending, key=lambda p: happened(p[1].record)):
        assert isinstance(stored.record, SupportAction)
        support.decide_standing(sellers[seller_id], stored.record)
    uow.save([], sellers.values(), [], [], [])
    return len(pending)


def decide_orders(uow: DecideUnitOfWork, order_ids: list[str], until: dt.datetime,
                  policy: Policy) -> PassReport:
    """Decide these orders up to `until` in one transaction; the caller commits."""
    report = PassReport(until=until)
    loaded = uow.load(order_ids, until)
    events: list[RecordedEvent] = []
    refused: list[Refused] = list(loaded.unreadable)
    decided: list[str] = []
    #: carrier reports these orders took in (and which did): decided with them
    taken_in: dict[str, set[str]] = {}
    # every carrier report on a parcel these orders track or start tracking, in one
    # query for the chunk rather than one per order
    reports = uow.reports(set().union(*(
        _parcels(loaded.orders[order_id], loaded.undecided.get(order_id, []))
        for order_id in order_ids)), until)
    for order_id in order_ids:
        order = loaded.orders[order_id]
        undecided = loaded.undecided.get(order_id, [])
        decided += [s.record.event_id for s in undecided]
        report.records += len(undecided)
        entries, late, kept = _entries(order, undecided, reports)
        if late:
            order, outcome = _decide_again(uow, order_id, order, late, until, policy,
                                           loaded.sellers)
            loaded.orders[order_id] = order
            report.late_orders += 1
            for stored in late:
                topic = stored.cause.topic
                report.late[topic] = report.late.get(topic, 0) + 1
            superseded = sum(isinstance(e, DecisionSuperseded) for e in outcome.events)
            report.superseded += superseded
            log.warning("late_record_decided_again", order_id=order_id,
                        late_event_id=late[0].record.event_id, superseded=superseded)
        else:
            decision = advance(order, [s.record for s in entries], until, policy,
                               loaded.sellers)
            outcome = Outcome(decision.events, decision.invalid, entries)
        for s in [*outcome.stored, *kept]:
            if isinstance(s.record, TrackingUpdated):
                taken_in.setdefault(s.record.event_id, set()).add(order_id)
        known = {s.record.event_id: s for s in [*undecided, *outcome.stored]}
        events += [_recorded(event, known, late) for event in outcome.events]
        refused += [Refused(_cause_of(event_id, known), reason)
                    for event_id, reason in outcome.invalid]
        _count_deadlines(report, outcome.events)
    report.orders, report.events, report.refused = len(order_ids), len(events), len(refused)
    uow.save(loaded.orders.values(), loaded.sellers.values(), decided, refused, events)
    # Marked in this transaction, not at the end of the pass: a pass cut short after it
    # would leave them undecided behind orders decided past them (late, to the next).
    if taken_in:
        report.reports_left = {event_id: taken_in[event_id]
                               for event_id in uow.reports_decided(taken_in)}
    return report


@dataclass
class Outcome:
    """What deciding one order gave: its events, its records refused as bad input, and
    the stored records it was decided from."""

    events: list[CaseEvent]
    invalid: list[tuple[str, str]]
    stored: list[Stored]


def _parcels(order: Order, undecided: list[Stored]) -> set[Parcel]:
    """The parcels whose carrier reports deciding the order may take in: those its case
    tracks, and those its undecided records add (a late one's too: a few reports read
    for nothing, never one missed)."""
    return order.tracked_parcels() | {Parcel.of(s.record) for s in undecided
                                      if isinstance(s.record, AddTracking)}


def _entries(order: Order, undecided: list[Stored], reports: Mapping[Parcel, list[Report]]
             ) -> tuple[list[Stored], list[Stored], list[Stored]]:
    """The order's records to decide now, its parcels' new carrier reports among them
    (from `reports`, read for its chunk), those that came too late to be decided in
    their place, and the carrier reports kept as they stood when a case named their
    parcel."""
    entries = [s for s in undecided if not is_late(order, s.record)]
    late = [s for s in undecided if is_late(order, s.record)]
    kept: list[Stored] = []
    tracked = order.tracked_parcels()
    linking = {Parcel.of(s.record) for s in entries
               if isinstance(s.record, AddTracking)} - tracked
    if not tracked and not linking:
        return entries, late, kept
    for parcel in sorted(tracked | linking):
        for report in reports.get(parcel, ()):
            update = report.stored.record
            assert isinstance(update, TrackingUpdated)
            if not is_late(order, update):
                entries.append(report.stored)
            elif parcel in linking:
                # known before this order's case named the parcel: where it stood
                order.keep_report(parcel, CarrierReport.of(update))
                kept.append(report.stored)
            elif not report.decided:
                late.append(report.stored)
    return entries, late, kept


def _decide_again(uow: DecideUnitOfWork, order_id: str, order: Order, late: list[Stored],
                  until: dt.datetime, policy: Policy,
                  sellers: dict[str, SellerStanding]) -> tuple[Order, Outcome]:
    """The order's whole history decided again, and what to publish of the difference."""
    horizon = max(until, order.decided_through or until)
    history = uow.history(order_id, horizon)
    parcels = {Parcel.of(s.record) for s in history if isinstance(s.record, AddTracking)}
    reports = [r.stored for rs in uow.reports(parcels, horizon).values() for r in rs]
    stored = [*history, *reports]
    fresh, decision = redecide(order_id, [s.record for s in stored], horizon, policy,
                               sellers)
    first_late = min((s.record for s in late), key=happened)
    events = revise(fresh, uow.published(order_id), decision.events, first_late,
                    uow.content)
    return fresh, Outcome(events, decision.invalid, stored)


def _cause_of(event_id: str, known: dict[str, Stored]) -> Cause:
    stored = known.get(event_id)
    return stored.cause if stored else Cause(SWEEPER_TOPIC, -1, -1, event_id)


def _recorded(event: CaseEvent, known: dict[str, Stored], late: list[Stored]
              ) -> RecordedEvent:
    """The event with its cause's position and trace: the inbound record it answers,
    the late record for a superseded decision, or the time rule (a held action's
    position is found by storage)."""
    if isinstance(event, DecisionSuperseded):
        cause = known[event.late_event_id]
        return RecordedEvent(event, cause.cause, cause.trace,
                             supersedes=event.superseded_event_id)
    stored = known.get(event.cause_id)
    if stored is None:
        return RecordedEvent(event, Cause(SWEEPER_TOPIC, -1, -1, event.cause_id))
    return RecordedEvent(event, stored.cause, stored.trace)


def _count_deadlines(report: PassReport, events: Iterable[CaseEvent]) -> None:
    for event in events:
        if event.rule in DEADLINE_RULES:
            report.deadlines[event.rule] = report.deadlines.get(event.rule, 0) + 1


#: the time rules: what a pass decides because time passed (counted by rule)
DEADLINE_RULES = frozenset({Rule.UNKNOWN_ORDER, Rule.SELLER_INACTIVITY,
                            Rule.ESCALATION_AVAILABLE, Rule.LATE_DELIVERY})
