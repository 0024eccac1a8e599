"""Decisions stand: whatever the arrival order, however the consumers are stopped and
started and whenever the sweeper runs, the service publishes exactly the events that
deciding every record in the order it happened would publish, for every record within
the allowed lateness (no event is ever taken back, none is added or changed).

Each example is one order's life on all five topics, every kind of case action among
them. Each record reaches its topic up to the allowed lateness after it happened (so the
topics interleave in any way); the consumers store what they read in batches of any
size, are stopped (losing what they had not committed) and started again at any moment,
and the sweeper runs at any wall-clock moment.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.case_events import DecisionSuperseded
from domain.policy import Policy
from domain.records import Address, InboundRecord, Money
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
from tests.service.simulation import TOPICS, Simulation, in_order

POLICY = Policy()
DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)
LATENESS = 6 * HOUR
ELSEWHERE = Address(name="X", line1="1 Other Street", city="Lyon", postal_code="69001",
                    country="FR")
SUPPORT_ACTIONS = ["escalate", "close", "reopen", "refund_and_recoup", "suspend_seller",
                   "reinstate_seller"]


@st.composite
def order_lives(draw: st.DrawFn, order_id: str = "o1", parcel: str = "T1"
                ) -> dict[str, list[InboundRecord]]:
    """The records of one order's life, per topic, in the order they happened."""
    reason = draw(st.sampled_from(["non_delivery", "not_as_described"]))
    opened_at = ELIGIBLE + draw(st.integers(0, 5)) * DAY
    hours = st.integers(-48, 8 * 24)  # relative to the opening

    def at() -> dt.datetime:
        return opened_at + draw(hours) * HOUR

    o = order_id
    actions = [open_case(o, at=opened_at, reason=reason)]
    if draw(st.booleans()):
        actions.append(add_tracking(o, at=at(), tracking_number=parcel))
    if draw(st.booleans()):
        actions.append(escalate(o, at=at()))
    if draw(st.booleans()):
        actions.append(close_case(o, at=at()))
    for action in draw(st.lists(st.sampled_from(SUPPORT_ACTIONS), max_size=3)):
        actions.append(support(action, o, at=at()))
    payments = []
    if draw(st.booleans()):
        payments.append(captured(o, amount=10_000, occurred_at=opened_at - 10 * DAY))
    for amount in draw(st.lists(st.integers(1, 6000), max_size=3)):
        by = draw(st.sampled_from(["seller", "support"]))
        payments.append(refund(o, amount=amount, at=at(), initiated_by=by))
    tracking = []
    if draw(st.booleans()):
        tracking.append(delivered(at=at(), to=HOME if draw(st.booleans()) else ELSEWHERE,
                                  tracking_number=parcel))
    messages = [message(o, at=at(), sender_id="s1", sender_role="seller", kind="message")
                for _ in range(draw(st.integers(0, 2)))]
    if draw(st.booleans()):
        messages.append(message(o, at=at()))
    return {topic: sorted(records, key=lambda r: r.occurred_at) for topic, records in {
        "orders": [placed(o, total=Money(10_000, "EUR"))],
        "case-actions": actions, "payments": payments, "carrier-tracking": tracking,
        "messages": messages}.items()}


@st.composite
def two_lives(draw: st.DrawFn) -> dict[str, list[InboundRecord]]:
    """Two orders of one seller sharing the topics (their parcels are different)."""
    first, second = draw(order_lives()), draw(order_lives("o2", parcel="T2"))
    return {topic: [*first[topic], *second[topic]] for topic in first}


def _key(record: InboundRecord) -> str:
    return getattr(record, "order_id", None) or getattr(record, "tracking_number", "")


def run(life: dict[str, list[InboundRecord]], data: st.DataObject) -> Simulation:
    sim = Simulation(LATENESS, POLICY)
    for topic, records in life.items():
        reached: dict[str, dt.datetime] = {}
        for record in records:
            # up to the allowed lateness after it happened, never before the record
            # before it with its key (Kafka keeps a key's order); across keys a topic's
            # records are then out of time order by up to the allowed lateness
            delay = data.draw(st.integers(0, 12)) * LATENESS / 12
            at = max(reached.get(_key(record), record.occurred_at),
                     record.occurred_at + delay)
            reached[_key(record)] = at
            sim.produce(topic, record, at - record.occurred_at)
    everything = [r for rs in life.values() for r in rs]
    first = min(r.occurred_at for r in everything)
    sim.tick(first)
    end = max(r.occurred_at for r in everything) + 400 * DAY
    for _ in range(data.draw(st.integers(0, 120))):
        step = data.draw(st.integers(0, 9))
        topic = data.draw(st.sampled_from(TOPICS))
        if step <= 3:
            sim.consume(topic, data.draw(st.integers(1, 3)))
        elif step == 4:
            sim.commit(topic)
        elif step == 5:
            sim.stop(topic) if sim.partitions[topic].running else sim.start(topic)
        elif step == 6:
            sim.sweep()
        else:
            sim.tick(sim.now + data.draw(st.integers(1, 36)) * HOUR)
    sim.drain(end)
    return sim


@settings(max_examples=250, deadline=None)
@given(life=two_lives(), data=st.data())
def test_any_arrival_any_outage_any_sweep_publishes_what_in_order_processing_does(
        life, data):
    sim = run(life, data)
    expected = in_order([r for rs in life.values() for r in rs], sim.watermark, POLICY)
    for order_id, (events, _) in expected.items():
        published = sim.store.published_events(order_id)
        assert not any(isinstance(e, DecisionSuperseded) for e in published)
        assert [(e.event_id, e.to_record()) for e in published] == [
            (e.event_id, e.to_record()) for e in events]
    refused = sorted(i for _, ids in expected.values() for i in ids)
    assert sorted(d.cause.event_id for d in sim.store.dead_letters) == refused


def test_a_record_later_than_the_allowed_lateness_supersedes_what_it_changes():
    """Seller inactivity was decided before the seller's answer arrived (it reached its
    topic two days and more late): the escalation is superseded, escalation becomes available."""
    sim = Simulation(LATENESS, POLICY)
    opened = ELIGIBLE + DAY
    sim.produce("orders", placed(), dt.timedelta(0))
    sim.produce("case-actions", open_case(at=opened), dt.timedelta(0))
    answer = message(at=opened + DAY, sender_id="s1", sender_role="seller", kind="message")
    sim.produce("messages", answer, 2 * DAY + LATENESS + HOUR)  # beyond the lateness
    sim.tick(opened)
    for topic in TOPICS:
        sim.consume(topic, 10)
    sim.tick(opened + 3 * DAY + LATENESS)
    sim.sweep()
    assert [e.type for e in sim.store.published_events()] == [
        "CaseOpened", "CaseEscalated"]
    escalated = sim.store.published_events()[-1]
    sim.drain(opened + 4 * DAY)
    types = [e.type for e in sim.store.published_events()]
    assert types == ["CaseOpened", "CaseEscalated", "DecisionSuperseded",
                     "EscalationAvailable"]
    superseded = sim.store.published_events()[2]
    assert isinstance(superseded, DecisionSuperseded)
    assert superseded.superseded_event_id == escalated.event_id
    assert superseded.late_event_id == answer.event_id
    assert sim.store.orders["o1"].case.state == "open"
