"""Cross-topic races end the same whatever the arrival order (DESIGN.md, Guarantees).

Each generated order has records on five topics; within a topic they keep their order (as
Kafka keeps it per key), across topics they arrive interleaved in any way. The final
state must equal the one reached when everything arrives in the order it happened.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.policy import Policy
from domain.records import Address, InboundRecord, Money
from service.apply import apply_batch
from service.unit_of_work import Cause, Inbound
from tests.builders import (
    ELIGIBLE,
    HOME,
    add_tracking,
    delivered,
    message,
    open_case,
    placed,
    refund,
)
from tests.service.fake_uow import FakeUnitOfWork

POLICY = Policy()
DAY = dt.timedelta(days=1)
ELSEWHERE = Address(name="X", line1="1 Other Street", city="Lyon", postal_code="69001",
                    country="FR")


@st.composite
def order_lives(draw: st.DrawFn) -> dict[str, list[InboundRecord]]:
    """The records of one order's life, per topic, in the order they happened."""
    reason = draw(st.sampled_from(["non_delivery", "not_as_described"]))
    opened_at = ELIGIBLE + draw(st.integers(0, 5)) * DAY
    topics: dict[str, list[InboundRecord]] = {
        "orders": [placed(total=Money(10_000, "EUR"))],
        "case-actions": [open_case(at=opened_at, reason=reason)],
        "payments": [],
        "carrier-tracking": [],
        "messages": [],
    }
    if draw(st.booleans()):
        topics["case-actions"].append(add_tracking(at=opened_at + DAY))
    if draw(st.booleans()):
        to = HOME if draw(st.booleans()) else ELSEWHERE
        at = opened_at + draw(st.integers(-2, 3)) * DAY
        topics["carrier-tracking"].append(delivered(at=at, to=to))
    amounts = draw(st.lists(st.integers(1, 3000), max_size=3))  # always short of 10,000
    for n, amount in enumerate(amounts):
        at = opened_at + (n + 1) * dt.timedelta(hours=draw(st.integers(-30, 30)))
        by = draw(st.sampled_from(["seller", "support"]))
        topics["payments"].append(refund(amount=amount, at=at, initiated_by=by))
    for hours in draw(st.lists(st.integers(-48, 96), max_size=2)):
        at = opened_at + dt.timedelta(hours=hours)
        topics["messages"].append(message(at=at, sender_id="s1", sender_role="seller",
                                          kind="message"))
    topics["messages"].sort(key=lambda r: r.occurred_at)
    return topics


def final_state(arrivals: list[tuple[str, InboundRecord]]) -> tuple[object, ...]:
    uow = FakeUnitOfWork()
    for offset, (topic, record) in enumerate(arrivals):
        apply_batch(uow, [Inbound(Cause(topic, 0, offset, record.event_id), record)], POLICY)
    order = uow.orders["o1"]
    case = order.case
    # the whole case (state, reason, who took part when, proofs in a stable order)
    proofs = case and sorted(p.key for p in case.proofs)
    return (case and {**case.__dict__, "proofs": proofs}, order.refunded_total(),
            len(order.held))


def in_time_order(life: dict[str, list[InboundRecord]]) -> list[tuple[str, InboundRecord]]:
    everything = [(t, r) for t, records in life.items() for r in records]
    first = [(t, r) for t, r in everything if t == "orders"]
    return first + sorted((x for x in everything if x[0] != "orders"),
                          key=lambda x: x[1].occurred_at)


@settings(max_examples=250, deadline=None)
@given(life=order_lives(), data=st.data())
def test_any_interleaving_reaches_the_same_final_state(life, data):
    queues = {t: list(rs) for t, rs in life.items() if rs}
    arrivals: list[tuple[str, InboundRecord]] = []
    while queues:
        topic = data.draw(st.sampled_from(sorted(queues)))
        arrivals.append((topic, queues[topic].pop(0)))
        if not queues[topic]:
            del queues[topic]
    assert final_state(arrivals) == final_state(in_time_order(life))
