"""Cross-topic races end the same whatever the arrival order (DESIGN.md, Guarantees).

Each generated order has records on all five topics, case actions of every kind among
them; within a topic they keep their order (as Kafka keeps it per key), across topics they
arrive interleaved in any way, with sweeps of the time rules at any points in between.
After a last sweep, the order must be in the state that applying everything in the order
it happened, with every deadline swept as it passes, gives.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.order import happened
from domain.policy import Policy
from domain.records import Address, InboundRecord, Money
from service.apply import apply_batch
from service.sweep import sweep_due
from service.unit_of_work import Cause, Inbound
from tests.builders import (
    ELIGIBLE,
    HOME,
    add_tracking,
    captured,
    close_case,
    delivered,
    escalate,
    message,
    open_case,
    placed,
    refund,
    support,
)
from tests.service.fake_uow import FakeUnitOfWork

POLICY = Policy()
DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)
ELSEWHERE = Address(name="X", line1="1 Other Street", city="Lyon", postal_code="69001",
                    country="FR")
FINAL_SWEEP = ELIGIBLE + 400 * DAY  # past every deadline, late delivery included
SUPPORT_ACTIONS = ["escalate", "close", "reopen", "refund_and_recoup"]


@st.composite
def order_lives(draw: st.DrawFn) -> dict[str, list[InboundRecord]]:
    """The records of one order's life, per topic, in the order they happened."""
    reason = draw(st.sampled_from(["non_delivery", "not_as_described"]))
    opened_at = ELIGIBLE + draw(st.integers(0, 5)) * DAY
    hours = st.integers(-48, 8 * 24)  # relative to the opening

    def at() -> dt.datetime:
        return opened_at + draw(hours) * HOUR

    actions = [open_case(at=opened_at, reason=reason)]
    if draw(st.booleans()):
        actions.append(add_tracking(at=at()))
    if draw(st.booleans()):
        actions.append(escalate(at=at()))
    if draw(st.booleans()):
        actions.append(close_case(at=at()))
    for action in draw(st.lists(st.sampled_from(SUPPORT_ACTIONS), max_size=2)):
        actions.append(support(action, at=at()))
    payments = []
    if draw(st.booleans()):
        payments.append(captured(amount=10_000, occurred_at=opened_at - 10 * DAY))
    for amount in draw(st.lists(st.integers(1, 6000), max_size=3)):
        by = draw(st.sampled_from(["seller", "support"]))
        payments.append(refund(amount=amount, at=at(), initiated_by=by))
    tracking = []
    if draw(st.booleans()):
        tracking.append(delivered(at=at(), to=HOME if draw(st.booleans()) else ELSEWHERE))
    messages = [message(at=at(), sender_id="s1", sender_role="seller", kind="message")
                for _ in range(draw(st.integers(0, 2)))]
    return {topic: sorted(records, key=lambda r: r.occurred_at) for topic, records in {
        "orders": [placed(total=Money(10_000, "EUR"))],
        "case-actions": actions, "payments": payments, "carrier-tracking": tracking,
        "messages": messages}.items()}


Step = tuple[str, InboundRecord] | dt.datetime  # a record's arrival, or a sweep to a time


def final_state(steps: list[Step]) -> tuple[object, ...]:
    uow = FakeUnitOfWork()
    uow.policy = POLICY
    for offset, step in enumerate([*steps, FINAL_SWEEP]):
        if isinstance(step, dt.datetime):
            sweep_due(uow, step, POLICY, limit=10)
        else:
            topic, record = step
            apply_batch(uow, [Inbound(Cause(topic, 0, offset, record.event_id), record)],
                        POLICY)
    order = uow.orders["o1"]
    case = order.case
    proofs = case and sorted(p.key for p in case.proofs)
    return (case and {**case.__dict__, "proofs": proofs}, order.refunded_total(),
            len(order.held), order.cancelled)


def in_time_order(life: dict[str, list[InboundRecord]]) -> list[Step]:
    """Every record as it happened, with a sweeper that never sleeps: the deadlines
    before each record are swept just before it."""
    everything = [(t, r) for t, records in life.items() for r in records]
    steps: list[Step] = []
    for topic, record in sorted(everything, key=lambda x: happened(x[1])):
        steps += [record.occurred_at - dt.timedelta(microseconds=1), (topic, record)]
    return steps


@settings(max_examples=400, deadline=None)
@given(life=order_lives(), data=st.data())
def test_any_interleaving_with_any_sweeps_reaches_the_same_final_state(life, data):
    queues = {t: list(rs) for t, rs in life.items() if rs}
    steps: list[Step] = []
    sweep_to = ELIGIBLE - DAY
    while queues:
        if data.draw(st.integers(0, 5)) == 0:  # the sweeper runs now and then
            sweep_to += data.draw(st.integers(0, 5 * 24)) * HOUR
            steps.append(sweep_to)
        topic = data.draw(st.sampled_from(sorted(queues)))
        steps.append((topic, queues[topic].pop(0)))
        if not queues[topic]:
            del queues[topic]
    assert final_state(steps) == final_state(in_time_order(life))
