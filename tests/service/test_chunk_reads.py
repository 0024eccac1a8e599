"""A chunk of orders reads the carrier reports on its parcels once, not once per order
whose case tracks a parcel (a round trip per order on the live path)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from domain.parcel import Parcel
from domain.policy import Policy
from service.decide import decide_until
from service.store import store_batch
from service.unit_of_work import Cause, Inbound, PartitionStep, Report
from tests.builders import ELIGIBLE, add_tracking, delivered, fields_of, open_case, placed
from tests.service.fake_uow import FakeStore

DAY = dt.timedelta(days=1)
ORDERS = [f"o{n}" for n in range(5)]


@dataclass
class CountingStore(FakeStore):
    report_reads: list[set[Parcel]] = field(default_factory=list)

    def reports(self, parcels: Iterable[Parcel], until: dt.datetime
                ) -> dict[Parcel, list[Report]]:
        wanted = set(parcels)
        self.report_reads.append(wanted)
        return super().reports(wanted, until)


def _store(store: FakeStore, topic: str, records: list) -> None:
    items = [Inbound(Cause(topic, 0, n, r.event_id), fields_of(r), fingerprint=repr(r).encode())
             for n, r in enumerate(records)]
    store_batch(store, items, [PartitionStep(topic, 0, len(items),
                                             max(r.occurred_at for r in records))])


def _cases_with_parcels(store: FakeStore) -> None:
    _store(store, "orders", [placed(o) for o in ORDERS])
    _store(store, "case-actions", [
        *[open_case(o, at=ELIGIBLE + DAY) for o in ORDERS],
        *[add_tracking(o, at=ELIGIBLE + 2 * DAY, tracking_number=f"T-{o}") for o in ORDERS]])
    _store(store, "carrier-tracking", [delivered(at=ELIGIBLE + 3 * DAY,
                                                 tracking_number=f"T-{o}") for o in ORDERS])


def test_a_chunk_reads_the_reports_on_all_its_parcels_in_one_query():
    store = CountingStore(policy=Policy())
    _cases_with_parcels(store)
    decide_until(store.unit, ELIGIBLE + 4 * DAY, Policy(), chunk=len(ORDERS))
    assert len(store.report_reads) == 1
    assert store.report_reads[0] == {Parcel("dhl", f"T-{o}") for o in ORDERS}
    # each order took in its own parcel's report, and the reports are decided
    assert all(store.orders[o].case.proofs for o in ORDERS)
    assert all(decided for stored, decided in store.records.values()
               if stored.cause.topic == "carrier-tracking")


def test_orders_in_two_chunks_read_them_once_per_chunk():
    store = CountingStore(policy=Policy())
    _cases_with_parcels(store)
    decide_until(store.unit, ELIGIBLE + 4 * DAY, Policy(), chunk=3)
    assert [len(read) for read in store.report_reads] == [3, 2]
