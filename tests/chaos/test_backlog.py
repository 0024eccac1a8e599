"""The backlog's publish order: as generated, or topic by topic with orders last; each
topic's records (so each partition's) in the generated order either way."""

from __future__ import annotations

from chaos.backlog import UNORDERED_TOPICS, in_publish_order
from workload.generator import generate

ITEMS = generate(1, 40)


def _per_topic(items):
    topics: dict[str, list[str]] = {}
    for item in items:
        topics.setdefault(item.topic, []).append(item.record["event_id"])
    return topics


def test_in_time_order_the_workload_goes_out_as_generated():
    assert in_publish_order(ITEMS) == ITEMS


def test_unordered_publishes_each_topic_whole_in_its_order_orders_last():
    items = in_publish_order(ITEMS, unordered=True)
    assert sorted(id(i) for i in items) == sorted(id(i) for i in ITEMS)
    seen = [t for n, t in enumerate(i.topic for i in items)
            if n == 0 or items[n - 1].topic != t]
    assert seen == [t for t in UNORDERED_TOPICS if any(i.topic == t for i in ITEMS)]
    assert seen[-1] == "orders"
    assert _per_topic(items) == _per_topic(ITEMS)
