"""An in-memory store: the storage boundary faked for service-layer tests. It keeps what
PostgreSQL keeps (storage/), with the same meaning, and no transactions."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from domain import deadlines
from domain.case_events import CaseEvent, DecisionSuperseded
from domain.decision import SellerStanding
from domain.order import Order
from domain.parcel import Parcel
from domain.policy import Policy
from domain.records import OrderPlaced, SupportAction, TrackingUpdated, order_of
from domain.revisions import PublishedDecision
from domain.vocabulary import STANDING_ACTIONS
from service.unit_of_work import (
    Claimed,
    Inbound,
    Loaded,
    PartitionStep,
    RecordedEvent,
    Refused,
    Report,
    Stored,
    Work,
    trace_of,
)


@dataclass
class FakeStore:
    policy: Policy = field(default_factory=Policy)
    inbox: dict[str, bytes] = field(default_factory=dict)
    #: every record kept, by event_id, with whether it was decided
    records: dict[str, tuple[Stored, bool]] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    sellers: dict[str, SellerStanding] = field(default_factory=dict)
    #: the outbox: every case event, in the order they were appended
    events: list[RecordedEvent] = field(default_factory=list)
    superseded: set[str] = field(default_factory=set)
    dead_letters: list[Refused] = field(default_factory=list)
    progress: dict[tuple[str, int], tuple[int, dt.datetime | None]] = field(
        default_factory=dict)
    arrivals: int = 0

    @contextmanager
    def unit(self) -> Iterator[FakeStore]:
        yield self

    # ---- StoreUnitOfWork ----------------------------------------------------------------

    def store(self, items: list[Inbound]) -> Claimed:
        claimed = Claimed()
        for item in items:
            known = self.inbox.get(item.cause.event_id)
            if known is None:
                self.inbox[item.cause.event_id] = item.fingerprint
                self.records[item.cause.event_id] = (
                    Stored(item.cause, item.record, trace_of(item.headers)), False)
                claimed.fresh.append(item)
            elif known == item.fingerprint:
                claimed.duplicates += 1
            else:
                claimed.conflicts.append((item, "event_id used by another record"))
        return claimed

    def advance(self, steps: list[PartitionStep]) -> None:
        for step in steps:
            offset, frontier = self.progress.get((step.topic, step.partition), (0, None))
            if step.frontier is not None and (frontier is None or step.frontier > frontier):
                frontier = step.frontier
            self.progress[step.topic, step.partition] = (max(offset, step.next_offset),
                                                         frontier)

    # ---- DecideUnitOfWork ---------------------------------------------------------------

    def _order_of(self, stored: Stored) -> str | None:
        return order_of(stored.record)

    def work(self, until: dt.datetime) -> Work:
        ids: set[str] = set()
        for event_id, (stored, decided) in list(self.records.items()):
            if decided or stored.record.occurred_at > until:
                continue
            order_id = self._order_of(stored)
            if order_id is not None:
                ids.add(order_id)
                continue
            # type: ignore below: only carrier reports reach here
            parcel = Parcel.of(stored.record)  # type: ignore[arg-type]
            naming = {o.order_id for o in self.orders.values()
                      if parcel in o.tracked_parcels()}
            ids |= naming
            if not naming:  # decided by the pass: no case names its parcel
                self.records[event_id] = (stored, True)
        ids |= {o.order_id for o in self.orders.values()
                if (due := deadlines.next_deadline(o, self.policy)) is not None
                and due <= until}
        return Work(sorted(ids))

    def load(self, order_ids: list[str], until: dt.datetime) -> Loaded:
        undecided: dict[str, list[Stored]] = {}
        for stored, decided in self.records.values():
            order_id = self._order_of(stored)
            if not decided and order_id in order_ids and stored.record.occurred_at <= until:
                undecided.setdefault(order_id, []).append(stored)
        orders = {i: copy.deepcopy(self.orders.get(i, Order(i))) for i in order_ids}
        seller_ids = {o.terms.seller_id for o in orders.values() if o.terms}
        seller_ids |= {s.record.seller_id for ss in undecided.values() for s in ss
                       if isinstance(s.record, OrderPlaced)}
        return Loaded(orders, undecided, self.lock_sellers(seller_ids))

    def reports(self, parcels: Iterable[Parcel], until: dt.datetime
                ) -> dict[Parcel, list[Report]]:
        wanted = set(parcels)
        found: dict[Parcel, list[Report]] = {}
        for stored, decided in self.records.values():
            record = stored.record
            if isinstance(record, TrackingUpdated) and record.occurred_at <= until:
                parcel = Parcel.of(record)
                if parcel in wanted:
                    found.setdefault(parcel, []).append(Report(stored, decided))
        return found

    def history(self, order_id: str, until: dt.datetime) -> list[Stored]:
        return [stored for stored, _ in self.records.values()
                if self._order_of(stored) == order_id and stored.record.occurred_at <= until]

    def published(self, order_id: str) -> Mapping[str, PublishedDecision]:
        return {r.event.decision_key: PublishedDecision(r.event.event_id, r.event.type,
                                                        self.content(r.event))
                for r in self.events
                if r.event.order_id == order_id and r.event.event_id not in self.superseded
                and not isinstance(r.event, DecisionSuperseded)}

    def undecided_standing(self, until: dt.datetime) -> list[tuple[str, Stored]]:
        sellers = {r.order_id: r.seller_id for r in (s.record for s, _ in self.records.values())
                   if isinstance(r, OrderPlaced) and r.occurred_at <= until}
        sellers |= {o.order_id: o.terms.seller_id for o in self.orders.values() if o.terms}
        found = []
        for stored, decided in self.records.values():
            record = stored.record
            if (not decided and isinstance(record, SupportAction)
                    and record.action in STANDING_ACTIONS and record.occurred_at <= until
                    and record.order_id in sellers):
                found.append((sellers[record.order_id], stored))
        return found

    def lock_sellers(self, seller_ids: Iterable[str]) -> dict[str, SellerStanding]:
        return {i: copy.deepcopy(self.sellers.get(i, SellerStanding(i))) for i in seller_ids}

    def save(self, orders: Iterable[Order], sellers: Iterable[SellerStanding],
             decided: Iterable[str], refused: list[Refused],
             events: list[RecordedEvent]) -> None:
        for order in orders:
            self.orders[order.order_id] = copy.deepcopy(order)
        for seller in sellers:
            self.sellers[seller.seller_id] = copy.deepcopy(seller)
        for event_id in decided:
            if event_id in self.records:
                self.records[event_id] = (self.records[event_id][0], True)
        for bad in refused:
            self.records.pop(bad.cause.event_id, None)
            self.inbox.pop(bad.cause.event_id, None)
            self.dead_letters.append(bad)
        known = {r.event.event_id for r in self.events}
        for recorded in events:
            if recorded.event.event_id not in known:
                self.events.append(recorded)
            if recorded.supersedes:
                self.superseded.add(recorded.supersedes)

    def reports_decided(self, taken_in: Mapping[str, Collection[str]]) -> list[str]:
        left = []
        for event_id, orders in taken_in.items():
            if event_id not in self.records or self.records[event_id][1]:
                continue
            stored = self.records[event_id][0]
            parcel = Parcel.of(stored.record)  # type: ignore[arg-type]
            if any(parcel in o.tracked_parcels() and o.order_id not in orders
                   for o in self.orders.values()):
                left.append(event_id)  # another order's case names the parcel
                continue
            self.records[event_id] = (stored, True)
        return sorted(left)

    def content(self, event: CaseEvent) -> object:
        record = event.to_record()
        record.pop("event_id")
        return repr(sorted(record.items()))

    def published_events(self, order_id: str | None = None) -> list[CaseEvent]:
        return [r.event for r in self.events
                if order_id is None or r.event.order_id == order_id]

