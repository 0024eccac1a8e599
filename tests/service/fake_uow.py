"""An in-memory unit of work: the storage boundary faked for service-layer tests."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterable

from domain.order import CarrierReport, Order, SellerStanding
from domain.records import AddTracking
from service.unit_of_work import Inbound, RecordedEvent


class FakeUnitOfWork:
    def __init__(self) -> None:
        self.inbox: set[str] = set()
        self.orders: dict[str, Order] = {}
        self.sellers: dict[str, SellerStanding] = {}
        self.reports: dict[str, CarrierReport] = {}
        self.proofs: set[tuple[str, str]] = set()
        self.events: list[RecordedEvent] = []

    def claim(self, items: list[Inbound]) -> list[Inbound]:
        fresh = []
        for item in items:
            if item.cause.event_id not in self.inbox:
                self.inbox.add(item.cause.event_id)
                fresh.append(item)
        return fresh

    def unclaim(self, event_ids: Iterable[str]) -> None:
        self.inbox -= set(event_ids)

    def history_tracking_keys(self, order_ids: Iterable[str]) -> set[str]:
        return {f"{h.carrier}:{h.tracking_number}" for i in order_ids if i in self.orders
                for h in self.orders[i].timeline if isinstance(h, AddTracking)}

    def record_carrier_reports(self, reports: dict[str, CarrierReport]) -> None:
        for key, report in reports.items():
            stored = self.reports.get(key)
            if stored is None or report.occurred_at >= stored.occurred_at:
                self.reports[key] = report

    def lock_carrier_reports(self, keys: Iterable[str]) -> dict[str, CarrierReport]:
        return {k: copy.deepcopy(self.reports[k]) for k in keys if k in self.reports}

    def orders_with_proof(self, keys: Iterable[str]) -> dict[str, list[str]]:
        keys = set(keys)
        linked: dict[str, list[str]] = {}
        for key, order_id in sorted(self.proofs):
            if key in keys:
                linked.setdefault(key, []).append(order_id)
        return linked

    def lock_orders(self, order_ids: Iterable[str]) -> dict[str, Order]:
        return {i: copy.deepcopy(self.orders.get(i, Order(i))) for i in order_ids}

    def lock_sellers(self, seller_ids: Iterable[str], exclusive: bool = True
                     ) -> dict[str, SellerStanding]:
        self.exclusive_seller_locks = exclusive
        return {i: copy.deepcopy(self.sellers.get(i, SellerStanding(i))) for i in seller_ids}

    def lock_due_orders(self, now: dt.datetime, limit: int) -> dict[str, Order]:
        due = {}
        for order_id in sorted(self.orders):
            at = self.orders[order_id].due_at(self.policy)
            if at is not None and at <= now and len(due) < limit:
                due[order_id] = copy.deepcopy(self.orders[order_id])
        return due

    def save(self, orders, sellers, proofs, events) -> None:
        for order in orders:
            self.orders[order.order_id] = order
        for seller in sellers:
            self.sellers[seller.seller_id] = seller
        self.proofs |= set(proofs)
        known = {e.event.event_id for e in self.events}
        self.events += [e for e in events if e.event.event_id not in known]

    policy = None  # set by tests that sweep
