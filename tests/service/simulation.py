"""A marketplace in miniature for the service layer: five single-partition topics that
producers append to at their own pace, one consumer per topic that stores what it reads
and may be stopped and started, and a sweeper that decides behind the watermark, all on
a simulated wall clock, over the in-memory store."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from domain.case_events import CaseEvent
from domain.decision import SellerStanding
from domain.order import Order
from domain.policy import Policy
from domain.records import InboundRecord, OrderPlaced, SupportAction, order_of
from domain.timeline import advance, happened
from domain.vocabulary import STANDING_ACTIONS, Role, SupportActionKind
from domain.watermark import LogEndHistory, PartitionProgress, low_watermark
from service.decide import PassReport, decide_until
from service.store import store_batch
from service.unit_of_work import Cause, Inbound, PartitionStep
from tests.builders import fields_of
from tests.service.fake_uow import FakeStore

TOPICS = ("orders", "messages", "carrier-tracking", "payments", "case-actions")


@dataclass
class Partition:
    topic: str
    #: (when it reached the broker, the record), in the order it did
    log: list[tuple[dt.datetime, InboundRecord]] = field(default_factory=list)
    #: where the consumer reads next, and where a restart would begin (the commit)
    position: int = 0
    committed: int = 0
    running: bool = True


@dataclass
class Simulation:
    lateness: dt.timedelta
    policy: Policy = field(default_factory=Policy)
    store: FakeStore = field(default_factory=FakeStore)
    partitions: dict[str, Partition] = field(
        default_factory=lambda: {t: Partition(t) for t in TOPICS})
    #: records still with their producers: (when they reach the broker, topic, record)
    upstream: list[tuple[dt.datetime, str, InboundRecord]] = field(default_factory=list)
    now: dt.datetime = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    watermark: dt.datetime | None = None
    passes: list[PassReport] = field(default_factory=list)
    #: where the sweeper saw each log end, and when (as the sweeper's LogEnds keeps it)
    log_ends: LogEndHistory = field(default_factory=LogEndHistory)

    def __post_init__(self) -> None:
        self.store.policy = self.policy

    def produce(self, topic: str, record: InboundRecord, delay: dt.timedelta) -> None:
        """`record` reaches the broker `delay` after it happened."""
        self.upstream.append((record.occurred_at + delay, topic, record))
        self.upstream.sort(key=lambda u: u[0])

    def tick(self, to: dt.datetime) -> None:
        """The wall clock moves to `to`; whatever producers sent by then is appended."""
        self.now = max(self.now, to)
        while self.upstream and self.upstream[0][0] <= self.now:
            at, topic, record = self.upstream.pop(0)
            self.partitions[topic].log.append((at, record))

    def consume(self, topic: str, count: int) -> None:
        """The topic's consumer stores its next `count` records (one batch)."""
        part = self.partitions[topic]
        if not part.running:
            return
        batch = part.log[part.position:part.position + count]
        if not batch:
            return
        items = [Inbound(Cause(topic, 0, part.position + n, r.event_id), fields_of(r),
                         fingerprint=repr(r).encode())
                 for n, (_, r) in enumerate(batch)]
        part.position += len(batch)
        store_batch(self.store, items, [PartitionStep(
            topic, 0, part.position, max(r.occurred_at for _, r in batch))])

    def commit(self, topic: str) -> None:
        part = self.partitions[topic]
        part.committed = part.position

    def stop(self, topic: str) -> None:
        part = self.partitions[topic]
        part.running, part.position = False, part.committed  # uncommitted: read again

    def start(self, topic: str) -> None:
        self.partitions[topic].running = True

    def sweep(self) -> None:
        """One pass of the sweeper at the current wall clock."""
        progress = []
        self.log_ends.note(self.now, {(t, 0): len(p.log) for t, p in self.partitions.items()})
        for topic, part in self.partitions.items():
            stored = self.store.progress.get((topic, 0))
            position = stored[0] if stored else None
            progress.append(PartitionProgress(
                topic, 0, 0, len(part.log), position, stored[1] if stored else None,
                self.log_ends.read_through((topic, 0), position or 0)))
        mark = low_watermark(progress, self.now, self.lateness).low
        if mark is not None and (self.watermark is None or mark > self.watermark):
            self.watermark = mark
        if self.watermark is not None:
            self.passes.append(decide_until(self.store.unit, self.watermark, self.policy,
                                            chunk=2))

    def drain(self, until: dt.datetime) -> None:
        """Every consumer started and caught up, the clock at `until`, a last pass."""
        self.tick(until)
        for topic in TOPICS:
            self.start(topic)
            self.consume(topic, 10_000)
        self.sweep()


def in_order(records: list[InboundRecord], until: dt.datetime, policy: Policy
             ) -> dict[str, tuple[list[CaseEvent], list[str]]]:
    """Per order, the events and refused records of deciding everything in the order it
    happened, in one go, every time rule up to `until`: what the service must publish."""
    by_order: dict[str, list[InboundRecord]] = {}
    parcels: list[InboundRecord] = []
    for record in records:
        order_id = order_of(record)
        if order_id is None:
            parcels.append(record)
        else:
            by_order.setdefault(order_id, []).append(record)
    # a seller's standing is decided for all of the seller's orders at once, in time
    # order, as the sweeper does before it decides the orders
    sellers: dict[str, SellerStanding] = {}
    placed = {r.order_id: r.seller_id for r in records if isinstance(r, OrderPlaced)}
    for action in sorted((r for r in records if isinstance(r, SupportAction)
                          and r.action in STANDING_ACTIONS and r.actor_role == Role.SUPPORT
                          and r.order_id in placed), key=happened):
        seller = placed[action.order_id]
        sellers.setdefault(seller, SellerStanding(seller)).decide(
            action.occurred_at, action.event_id,
            action.action == SupportActionKind.SUSPEND_SELLER, action.reason)
    out = {}
    for order_id, own in sorted(by_order.items()):
        decision = advance(Order(order_id), [*own, *parcels], until, policy, sellers)
        out[order_id] = (decision.events, sorted(i for i, _ in decision.invalid))
    return out
