"""The workload generator: deterministic, valid by contract, realistic in proportions."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from functools import cache

import pytest

from consumers import CONSUMERS
from consumers.batch import Limits, decode
from consumers.inbound import InboundMessage
from domain.policy import Policy
from schemas import INBOUND_TOPICS, record_key
from schemas.codec import shared_codec
from schemas.json_form import check_contract, from_json, to_json
from service.decide import decide_until
from service.store import store_batch
from service.unit_of_work import Cause, Inbound
from tests.service.fake_uow import FakeStore
from workload.generator import Published, generate

ORDERS = 2000


@cache
def workload() -> tuple[Published, ...]:
    return tuple(generate(11, ORDERS))


LIMITS = Limits(512 * 1024, dt.timedelta(seconds=5))


def test_a_seed_always_gives_the_same_records_in_the_same_order():
    assert generate(5, 300) == generate(5, 300)
    assert generate(5, 300) != generate(6, 300)


def test_more_orders_keep_the_first_orders_unchanged():
    small = generate(5, 100)
    large = [p for p in generate(5, 400) if p.record.get("order_id", "") <= "ord-5-0000099"
             and p.topic != "carrier-tracking"]
    assert [p for p in small if p.topic != "carrier-tracking"] == large


def test_seeds_share_no_ids():
    ids = lambda items: {p.record["event_id"] for p in items} | {p.key for p in items}  # noqa: E731
    assert not ids(generate(1, 200)) & ids(generate(2, 200))


def test_every_record_encodes_decodes_and_passes_the_contract():
    codec = shared_codec()
    for offset, item in enumerate(workload()):
        value = codec.encode(item.record)
        assert codec.decode(value) == item.record
        check_contract(item.record)
        assert from_json(item.topic, to_json(item.record)) == item.record
        message = InboundMessage(item.topic, 0, offset, item.key.encode(), value)
        decoded = decode(CONSUMERS[item.topic], message, LIMITS, LIMITS.batch_clock())
        assert isinstance(decoded, Inbound), (item, decoded)


def test_keys_topics_and_ids():
    seen: set[str] = set()
    for item in workload():
        assert item.key == record_key(item.topic, item.record)
        assert item.record["type"] in INBOUND_TOPICS[item.topic]
        assert item.record["event_id"] not in seen
        seen.add(item.record["event_id"])


def test_each_orders_records_keep_their_time_order_within_a_topic():
    last: dict[tuple[str, str], dt.datetime] = {}
    for item in workload():
        at = item.record["occurred_at"]
        assert at >= last.get((item.topic, item.key), at)
        last[item.topic, item.key] = at


def test_traffic_far_outnumbers_case_actions():
    items = workload()
    per_topic = Counter(p.topic for p in items)
    per_type = Counter(p.record["type"] for p in items)
    assert set(per_topic) == set(INBOUND_TOPICS)
    assert per_type["OrderPlaced"] == per_type["PaymentCaptured"] == ORDERS
    assert 0.85 * ORDERS < per_type["OrderShipped"] < ORDERS
    assert per_type["TrackingUpdated"] >= 3 * per_type["OrderShipped"]
    assert 0.01 * ORDERS < per_type["OrderCancelled"] < 0.06 * ORDERS
    assert 0.10 * ORDERS <= per_type["OpenCase"] <= 0.17 * ORDERS
    assert per_topic["case-actions"] < 0.06 * len(items)
    assert per_topic["messages"] > 0.2 * ORDERS
    assert per_type["RefundIssued"] > 0.05 * ORDERS


def _decide_all(items: tuple[Published, ...], until: dt.datetime) -> FakeStore:
    """Every record stored (in batches per topic, as the consumers take them), then
    decided up to `until`, as the sweeper does once the watermark passes."""
    store = FakeStore(Policy())
    by_topic: dict[str, list[Inbound]] = defaultdict(list)
    for offset, item in enumerate(items):
        by_topic[item.topic].append(Inbound(Cause(item.topic, 0, offset,
                                                  item.record["event_id"]),
                                            item.record))
    for batch in by_topic.values():
        for start in range(0, len(batch), 50):
            store_batch(store, batch[start:start + 50], [])
    decide_until(store.unit, until, store.policy)
    return store


LAST = dt.datetime(2026, 8, 1, tzinfo=dt.UTC)  # after the last record of the workload


def test_cases_end_every_way_the_policy_allows_and_nothing_is_bad_input():
    items = workload()
    assert max(p.record["occurred_at"] for p in items) < LAST
    uow = _decide_all(items, LAST)
    assert uow.dead_letters == []
    events = Counter(e.event.type for e in uow.events)
    closes = Counter(getattr(e.event, "close_reason", None) for e in uow.events
                     if e.event.type == "CaseClosed")
    assert set(closes) == {"full_refund", "buyer_closed", "delivered", "support_closed"}
    for kind in ("CaseOpened", "ProblemReported", "TrackingAdded", "RefundRecorded",
                 "CaseEscalated", "SupportRefundRequested", "CaseReopened", "SellerSuspended",
                 "SellerReinstatementEligible", "SellerReinstated", "ActionRejected"):
        assert events[kind] > 0, kind
    assert events["ActionRejected"] < 0.3 * events["CaseOpened"]
    assert any(o.case is not None and o.case.live for o in uow.orders.values())


@pytest.mark.parametrize("orders", [300])
def test_a_sweep_far_in_the_future_makes_open_cases_late(orders):
    uow = _decide_all(tuple(generate(3, orders)), LAST)
    before = len(uow.events)
    decide_until(uow.unit, dt.datetime(2028, 1, 1, tzinfo=dt.UTC), uow.policy)
    swept = Counter(e.event.type for e in uow.events[before:])
    assert swept["LateDelivery"] > 0
