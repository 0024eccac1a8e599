"""Apply a batch of inbound records: one unit of work, loaded and saved set-wise."""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.order import CarrierReport, InvalidRecord, Order, SellerStanding, tracking_key
from domain.policy import Policy
from domain.records import AddTracking, OrderPlaced, TrackingUpdated
from service.unit_of_work import Inbound, RecordedEvent, UnitOfWork


@dataclass
class BatchOutcome:
    applied: int = 0
    duplicates: int = 0
    events: list[RecordedEvent] = field(default_factory=list)
    #: well-formed records that contradict what is known, with the reason: dead letters
    invalid: list[tuple[Inbound, str]] = field(default_factory=list)


def _tracking_keys(items: list[Inbound]) -> set[str]:
    keys = set()
    for item in items:
        if isinstance(item.record, TrackingUpdated | AddTracking):
            keys.add(tracking_key(item.record.carrier, item.record.tracking_number))
    return keys


def _newer(report: CarrierReport | None, update: TrackingUpdated) -> bool:
    return report is None or update.occurred_at >= report.occurred_at


def apply_batch(uow: UnitOfWork, items: list[Inbound], policy: Policy) -> BatchOutcome:
    """Apply records in their order; the caller commits. Locks are taken tracking numbers
    first, then orders, then sellers, in every kind of batch, so batches never deadlock."""
    fresh = uow.claim(items)
    outcome = BatchOutcome(duplicates=len(items) - len(fresh))
    if not fresh:
        return outcome

    reports = uow.lock_carrier_reports(_tracking_keys(fresh))
    updates = [i.record for i in fresh if isinstance(i.record, TrackingUpdated)]
    linked = uow.orders_with_proof(
        {tracking_key(u.carrier, u.tracking_number) for u in updates})
    order_ids = {getattr(i.record, "order_id", None) for i in fresh} - {None}
    order_ids |= {oid for ids in linked.values() for oid in ids}
    orders = uow.lock_orders(sorted(order_ids))  # type: ignore[arg-type]
    seller_ids = {o.terms.seller_id for o in orders.values() if o.terms}
    seller_ids |= {i.record.seller_id for i in fresh if isinstance(i.record, OrderPlaced)}
    sellers = uow.lock_sellers(sorted(seller_ids))

    changed_reports: dict[str, CarrierReport] = {}
    proofs: set[tuple[str, str]] = set()
    for item in fresh:
        record = item.record
        if isinstance(record, TrackingUpdated):
            key = tracking_key(record.carrier, record.tracking_number)
            if _newer(reports.get(key), record):
                reports[key] = changed_reports[key] = CarrierReport(
                    record.status, record.occurred_at, record.delivered_to)
            targets = [orders[oid] for oid in linked.get(key, [])]
        else:
            order = orders[record.order_id]  # type: ignore[attr-defined]
            if isinstance(record, AddTracking):
                key = tracking_key(record.carrier, record.tracking_number)
                if key in reports:
                    order.carrier_reports[key] = reports[key]
            targets = [order]
        try:
            for order in targets:
                outcome.events += _apply_one(order, item, policy, sellers)
        except InvalidRecord as exc:
            outcome.invalid.append((item, str(exc)))
            continue
        outcome.applied += 1
        if isinstance(record, AddTracking):
            order = targets[0]
            if order.case and any(p.key == key for p in order.case.proofs):
                proofs.add((key, order.order_id))

    uow.unclaim(i.cause.event_id for i, _ in outcome.invalid)
    uow.save(orders.values(), sellers.values(), changed_reports, proofs, outcome.events)
    return outcome


def _apply_one(order: Order, item: Inbound, policy: Policy,
               sellers: dict[str, SellerStanding]) -> list[RecordedEvent]:
    record = item.record
    seller_id = (order.terms.seller_id if order.terms
                 else record.seller_id if isinstance(record, OrderPlaced) else None)
    seller = sellers.get(seller_id) if seller_id else None
    return [RecordedEvent(e, item.cause) for e in order.apply(record, policy, seller)]
