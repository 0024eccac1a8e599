"""What a batch needs from storage, and the types that travel with inbound records."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from domain.case_events import CaseEvent
from domain.order import CarrierReport, Order, SellerStanding
from domain.records import InboundRecord


@dataclass(frozen=True)
class Cause:
    """Where an inbound record (or a sweeper deadline) came from, kept in the case history."""

    topic: str
    partition: int
    offset: int
    event_id: str


@dataclass(frozen=True)
class Inbound:
    cause: Cause
    record: InboundRecord


@dataclass(frozen=True)
class RecordedEvent:
    event: CaseEvent
    cause: Cause


class UnitOfWork(Protocol):
    """One database transaction. Lock methods lock what they return until commit."""

    def claim(self, items: list[Inbound]) -> list[Inbound]:
        """Record the items' event_ids in the inbox; return those not seen before."""

    def unclaim(self, event_ids: Iterable[str]) -> None:
        """Forget inbox rows of records that turned out to be bad input."""

    def history_tracking_keys(self, order_ids: Iterable[str]) -> set[str]:
        """Tracking keys of the AddTracking actions in these orders' histories (read, not
        locked)."""

    def record_carrier_reports(self, reports: dict[str, CarrierReport]) -> None:
        """Store each parcel's report unless the stored one is newer (`occurred_at`; the
        given one wins a tie), locking the parcels until commit."""

    def lock_carrier_reports(self, keys: Iterable[str]) -> dict[str, CarrierReport]: ...

    def orders_with_proof(self, keys: Iterable[str]) -> dict[str, list[str]]:
        """For each tracking key, the orders whose case carries it as proof of shipping."""

    def lock_orders(self, order_ids: Iterable[str]) -> dict[str, Order]:
        """Every named order, a new empty one where none is stored yet."""

    def lock_sellers(self, seller_ids: Iterable[str], exclusive: bool = True
                     ) -> dict[str, SellerStanding]:
        """Sellers' standings, locked until commit: exclusively when the batch may change
        them, else shared (a standing is read by every batch and changed by few, so
        batches of different consumers need not wait for each other on a big seller)."""

    def lock_due_orders(self, now: dt.datetime, limit: int) -> dict[str, Order]:
        """Orders with a time rule due by `now`, skipping those another sweeper holds."""

    def save(
        self,
        orders: Iterable[Order],
        sellers: Iterable[SellerStanding],
        proofs: Iterable[tuple[str, str]],
        events: list[RecordedEvent],
    ) -> None:
        """Write changed state, new (tracking key, order id) links, and the case events."""
