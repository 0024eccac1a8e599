"""A pass of the sweeper cut short (killed, or its database gone) between two of its
transactions leaves what it committed standing: the next pass goes on from there, and
takes nothing it already decided for a late record."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest

from domain.case_events import DecisionSuperseded
from domain.policy import Policy
from service.decide import decide_until
from service.unit_of_work import Cause, DecideUnitOfWork, Inbound
from tests.builders import (
    ELIGIBLE,
    add_tracking,
    captured,
    delivered,
    fields_of,
    open_case,
    placed,
)
from tests.service.fake_uow import FakeStore
from tests.service.simulation import in_order

POLICY = Policy()
DAY = dt.timedelta(days=1)


class Killed(Exception):
    pass


def killed_after(store: FakeStore, units: int
                 ) -> Callable[[], AbstractContextManager[DecideUnitOfWork]]:
    """The store's units of work, the process gone before the one after `units`."""
    opened = [0]

    @contextmanager
    def unit() -> Iterator[DecideUnitOfWork]:
        opened[0] += 1
        if opened[0] > units:
            raise Killed
        with store.unit() as uow:
            yield uow

    return unit


def test_carrier_reports_an_order_took_in_are_not_late_after_the_pass_was_cut_short():
    records = [placed(), captured(), open_case(at=ELIGIBLE + DAY),
               add_tracking(at=ELIGIBLE + 2 * DAY),
               delivered(at=ELIGIBLE + 3 * DAY, status="in_transit", delivered_to=None),
               delivered(at=ELIGIBLE + 4 * DAY)]
    store = FakeStore(policy=POLICY)
    store.store([Inbound(Cause("t", 0, n, r.event_id), fields_of(r),
                         fingerprint=r.event_id.encode())
                 for n, r in enumerate([*records, placed("o2")])])
    # the standing, the work, o1's chunk: gone before o2's chunk and the pass's end
    with pytest.raises(Killed):
        decide_until(killed_after(store, 3), ELIGIBLE + 5 * DAY, POLICY, chunk=1)
    assert store.orders["o1"].decided_through is not None
    assert "o2" not in store.orders

    report = decide_until(store.unit, ELIGIBLE + 6 * DAY, POLICY)

    assert report.late_orders == 0 and report.late == {}
    published = store.published_events("o1")
    assert not any(isinstance(e, DecisionSuperseded) for e in published)
    events, _ = in_order(records, ELIGIBLE + 6 * DAY, POLICY)["o1"]
    assert [e.event_id for e in published] == [e.event_id for e in events]


def test_a_report_one_order_took_in_stays_late_for_another_order_naming_its_parcel():
    """o1 and o2 both name parcel dhl/T1; a report that reaches the service after o2 was
    decided past its time (but not o1) is o1's to take in and late for o2: deciding it
    with o1 (a transaction of its own) must not hide it from o2."""
    store = FakeStore(policy=POLICY)
    early = [placed("o1"), captured("o1"), open_case("o1", at=ELIGIBLE + DAY),
             add_tracking("o1", at=ELIGIBLE + 2 * DAY),
             placed("o2"), captured("o2"), open_case("o2", at=ELIGIBLE + DAY),
             add_tracking("o2", at=ELIGIBLE + 2 * DAY),
             add_tracking("o2", at=ELIGIBLE + 4.5 * DAY, carrier="ups", tracking_number="U2")]
    store.store([Inbound(Cause("t", 0, n, r.event_id), fields_of(r),
                         fingerprint=r.event_id.encode())
                 for n, r in enumerate(early)])
    decide_until(store.unit, ELIGIBLE + 5 * DAY, POLICY)
    # after what o1 was decided through (a time rule at 4 days), before o2's last record
    assert store.orders["o1"].decided_through == ELIGIBLE + 4 * DAY
    report = delivered(at=ELIGIBLE + 4.25 * DAY)
    store.store([Inbound(Cause("t", 0, 99, report.event_id), fields_of(report), fingerprint=b"r")])

    decided = decide_until(store.unit, ELIGIBLE + 6 * DAY, POLICY, chunk=1)

    assert decided.late_orders == 1  # o2, decided again with the report in its place
    for order_id in ("o1", "o2"):
        assert store.orders[order_id].parcels[0].report.event_id == report.event_id
    assert store.records[report.event_id][1]  # decided, once both orders were
