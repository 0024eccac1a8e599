"""What the service needs from storage, and the values that travel with records.

Two units of work, one transaction each: a consumer's batch stores what it read
(`StoreUnitOfWork`); the sweeper decides what the watermark has passed
(`DecideUnitOfWork`). storage/ implements them on PostgreSQL; the unit tests fake them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

from domain.case_events import CaseEvent
from domain.decision import SellerStanding
from domain.order import Order
from domain.parcel import Parcel
from domain.records import InboundRecord, from_record
from domain.revisions import PublishedDecision

#: the topic name a time rule's cause is kept under in the case history
SWEEPER_TOPIC = "sweeper"


@dataclass(frozen=True)
class Cause:
    """Where an inbound record (or a time rule) came from, kept in the case history."""

    topic: str
    partition: int
    offset: int
    event_id: str


@dataclass(frozen=True)
class Inbound:
    """A record read from an inbound topic, decoded and checked."""

    cause: Cause
    #: the record as decoded and checked, field by field (`type` names its type): what
    #: storing it reads. The typed record (`record`) is built only when asked for: a
    #: consumer stores records without ever needing one. Out of reprs: it may hold
    #: personal data (a message's body, a case's description); out of its hash (a
    #: mapping has none).
    fields: Mapping[str, Any] = field(repr=False, hash=False)
    #: what identifies the record's content: the same event_id with another fingerprint
    #: is another record (a conflict), with the same one it is the record again
    fingerprint: bytes = b""
    #: the bytes kept for the record (its value; a message's without its body)
    payload: bytes = b""
    #: the Kafka record's headers and timestamp (ms)
    headers: tuple[tuple[str, bytes | None], ...] = ()
    timestamp: int = 0

    @cached_property
    def record(self) -> InboundRecord:
        return from_record(self.fields)


#: W3C trace context: traceparent, and tracestate when there is one
Trace = tuple[str, str | None]


def trace_of(headers: Iterable[tuple[str, bytes | None]]) -> Trace | None:
    """The W3C trace context among Kafka headers (OpenTelemetry's Kafka propagation puts
    `traceparent` and `tracestate` there as text)."""
    found = {name: value for name, value in headers if name in ("traceparent", "tracestate")}
    parent = found.get("traceparent")
    if not parent:
        return None
    state = found.get("tracestate")
    return (parent.decode(errors="replace"),
            state.decode(errors="replace") if state else None)


@dataclass(frozen=True)
class Stored:
    """A record as the sweeper reads it back."""

    cause: Cause
    record: InboundRecord
    trace: Trace | None = None


@dataclass(frozen=True)
class Report:
    """A carrier report as the sweeper reads it back, and whether it was decided."""

    stored: Stored
    decided: bool


@dataclass(frozen=True)
class PartitionStep:
    """How far one batch read a partition: the offset after its last message, and the
    latest event time among its records (None when it had only dead letters)."""

    topic: str
    partition: int
    next_offset: int
    frontier: dt.datetime | None


@dataclass(frozen=True)
class RecordedEvent:
    event: CaseEvent
    cause: Cause
    trace: Trace | None = None
    #: a published event it replaces (DecisionSuperseded)
    supersedes: str | None = None


@dataclass(frozen=True)
class Refused:
    """A stored record the rules found to be bad input: it goes to its dead-letter
    topic from the outbox, and leaves the inbox so a corrected redrive can apply it."""

    cause: Cause
    reason: str


@dataclass
class Claimed:
    fresh: list[Inbound] = field(default_factory=list)
    duplicates: int = 0
    #: a different record under an event_id already used, with why
    conflicts: list[tuple[Inbound, str]] = field(default_factory=list)


class StoreUnitOfWork(Protocol):
    """A consumer's batch: one transaction."""

    def store(self, items: list[Inbound]) -> Claimed:
        """Keep the new records for the sweeper (an order's records, a parcel's reports);
        they are the inbox: sort out the items whose event_id was stored before."""

    def advance(self, steps: list[PartitionStep]) -> None:
        """Record how far the group has read each partition (never backwards)."""


@dataclass
class Loaded:
    """What a decision over some orders needs, locked until commit."""

    orders: dict[str, Order]
    #: per order, its records not decided yet, up to the watermark, in partition order
    undecided: dict[str, list[Stored]]
    sellers: dict[str, SellerStanding]
    #: records stored that cannot be read back: refused, as bad input is
    unreadable: list[Refused] = field(default_factory=list)


@dataclass
class Work:
    """What a pass of the sweeper has to decide, as found when it starts."""

    order_ids: list[str] = field(default_factory=list)


class DecideUnitOfWork(Protocol):
    """The sweeper's decisions over some orders: one transaction."""

    def work(self, until: dt.datetime) -> Work:
        """Orders with a record not decided yet, a time rule due, or a carrier report
        not decided yet on a parcel their case names, by `until`. The carrier reports by
        `until` on parcels no case names are decided by this: a case naming one of
        those parcels later takes in every report on it when it does."""

    def load(self, order_ids: list[str], until: dt.datetime) -> Loaded:
        """Lock the orders (made where missing) and their sellers; read their records
        not decided yet by `until`."""

    def reports(self, parcels: Iterable[Parcel], until: dt.datetime
                ) -> dict[Parcel, list[Report]]:
        """Every carrier report on these parcels by `until`, in the order they came."""

    def history(self, order_id: str, until: dt.datetime) -> list[Stored]:
        """Every record of the order by `until`, decided or not (a late one's order)."""

    def published(self, order_id: str) -> Mapping[str, PublishedDecision]:
        """The order's case events that still stand, by decision key."""

    def undecided_standing(self, until: dt.datetime) -> list[tuple[str, Stored]]:
        """Support's suspensions and reinstatements not decided yet, by `until`, with
        their order's seller, where the order is known or its OrderPlaced is by `until`."""

    def lock_sellers(self, seller_ids: Iterable[str]) -> dict[str, SellerStanding]: ...

    def save(self, orders: Iterable[Order], sellers: Iterable[SellerStanding],
             decided: Iterable[str], refused: list[Refused],
             events: list[RecordedEvent]) -> None:
        """Write the orders' new state, mark records decided, send refused ones to the
        dead-letter outbox, append the case events to the outbox."""

    def reports_decided(self, taken_in: Mapping[str, Collection[str]]) -> list[str]:
        """Mark decided the carrier reports (by event_id) that every order whose case
        names their parcel has taken in (`taken_in`: the orders that did); return the
        others: an order that has not may still have to find them late."""

    def content(self, event: CaseEvent) -> object:
        """What an event says, comparable with `PublishedDecision.content`."""
