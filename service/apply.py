"""Apply a batch of inbound records: one unit of work, loaded and saved set-wise."""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.order import CarrierReport, InvalidRecord, Order, SellerStanding, tracking_key
from domain.policy import Policy
from domain.records import (
    AddTracking,
    InboundRecord,
    OrderPlaced,
    SupportAction,
    TrackingUpdated,
)
from service.sweep import SWEEPER_TOPIC
from service.unit_of_work import Cause, Inbound, RecordedEvent, UnitOfWork


@dataclass
class BatchOutcome:
    applied: int = 0
    duplicates: int = 0
    events: list[RecordedEvent] = field(default_factory=list)
    #: well-formed records that contradict what is known, with the reason: dead letters
    invalid: list[tuple[Inbound, str]] = field(default_factory=list)


def _tracking_keys(records: list[InboundRecord]) -> set[str]:
    return {tracking_key(r.carrier, r.tracking_number) for r in records
            if isinstance(r, TrackingUpdated | AddTracking)}


def _keys_used(order: Order, record: InboundRecord) -> set[str]:
    """The parcels whose carrier reports applying `record` to `order` may need: its own
    AddTracking, or, for an OrderPlaced, those of every AddTracking it may decide."""
    if isinstance(record, OrderPlaced):
        return _tracking_keys(order.timeline)
    return _tracking_keys([record])


def _changes_standing(record: InboundRecord) -> bool:
    """Whether applying `record` may change a seller's standing (rule 9)."""
    return isinstance(record, SupportAction) and record.action in ("suspend_seller",
                                                                   "reinstate_seller")


def _newer(report: CarrierReport | None, update: TrackingUpdated) -> bool:
    return report is None or update.occurred_at >= report.occurred_at


def _latest_reports(updates: list[TrackingUpdated]) -> dict[str, CarrierReport]:
    """Per parcel, what the batch's newest TrackingUpdated says (at one instant, the
    later arrival)."""
    latest: dict[str, CarrierReport] = {}
    for update in updates:
        key = tracking_key(update.carrier, update.tracking_number)
        if _newer(latest.get(key), update):
            latest[key] = CarrierReport(update.status, update.occurred_at,
                                        update.delivered_to, update.event_id)
    return latest


def apply_batch(uow: UnitOfWork, items: list[Inbound], policy: Policy) -> BatchOutcome:
    """Apply records in their order; the caller commits. Locks are taken tracking numbers
    first, then orders, then sellers, in every kind of batch, so batches never deadlock."""
    fresh = uow.claim(items)
    outcome = BatchOutcome(duplicates=len(items) - len(fresh))
    if not fresh:
        return outcome

    records = [i.record for i in fresh]
    updates = [r for r in records if isinstance(r, TrackingUpdated)]
    # Carrier reports: the newest of each parcel is written (and the parcel locked) in one
    # statement, which keeps a stored report that is newer. Most parcels are in no case,
    # and this is all a tracking update does to them.
    latest = _latest_reports(updates)
    uow.record_carrier_reports(latest)
    placed_ids = [r.order_id for r in records if isinstance(r, OrderPlaced)]
    keys = _tracking_keys([r for r in records if isinstance(r, AddTracking)])
    keys |= uow.history_tracking_keys(placed_ids)
    reports = uow.lock_carrier_reports(keys)
    linked = uow.orders_with_proof(latest)
    order_ids = {getattr(r, "order_id", None) for r in records} - {None}
    order_ids |= {oid for ids in linked.values() for oid in ids}
    orders = uow.lock_orders(sorted(order_ids))  # type: ignore[arg-type]
    # an AddTracking that arrived after the peek above: lock its parcel late (rare; a
    # deadlock this could cause is detected by PostgreSQL and the batch retried)
    late = set().union(*(_tracking_keys(orders[i].timeline) for i in placed_ids))
    reports.update(uow.lock_carrier_reports(late - keys))
    seller_ids = {o.terms.seller_id for o in orders.values() if o.terms}
    seller_ids |= {i.record.seller_id for i in fresh if isinstance(i.record, OrderPlaced)}
    held = [h for i in placed_ids for h in orders[i].held]
    sellers = uow.lock_sellers(sorted(seller_ids),
                               exclusive=any(map(_changes_standing, [*records, *held])))

    proofs: set[tuple[str, str]] = set()
    for item in fresh:
        record = item.record
        if isinstance(record, TrackingUpdated):
            key = tracking_key(record.carrier, record.tracking_number)
            targets = [orders[oid] for oid in linked.get(key, [])]
        else:
            order = orders[record.order_id]  # type: ignore[attr-defined]
            for key in _keys_used(order, record):
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
        for order in targets:
            if order.case is not None:
                proofs |= {(p.key, order.order_id) for p in order.case.proofs}

    uow.unclaim(i.cause.event_id for i, _ in outcome.invalid)
    uow.save(orders.values(), sellers.values(), proofs, outcome.events)
    return outcome


def _apply_one(order: Order, item: Inbound, policy: Policy,
               sellers: dict[str, SellerStanding]) -> list[RecordedEvent]:
    record = item.record
    seller_id = (order.terms.seller_id if order.terms
                 else record.seller_id if isinstance(record, OrderPlaced) else None)
    seller = sellers.get(seller_id) if seller_id else None
    return [RecordedEvent(e, item.cause if e.cause_id == item.cause.event_id
                          # decided now for an earlier record (held, or its history was
                          # decided again): storage finds that record's position in the
                          # inbox; a deadline's cause is not there and stays the sweeper's
                          else Cause(SWEEPER_TOPIC, -1, -1, e.cause_id))
            for e in order.apply(record, policy, seller)]
