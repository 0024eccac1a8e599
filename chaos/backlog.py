"""The workload as a backlog: every record in Kafka before the fleet starts.

Why: the service decides in event time behind a low watermark (domain/watermark.py). A
partition with nothing unread vouches for the wall clock less the allowed lateness, and
the seeded workload is dated long before the wall clock; records published while the
fleet runs would let caught-up partitions carry the watermark past records not yet
published, which then arrive late and re-decide their orders, differently in each run.
Published whole before any component starts, nothing can arrive after the watermark
passed it: every partition with records unread holds the watermark at what it has
stored, less the allowed lateness, and the workload is in time order per partition.

The order the topics are published in then changes nothing the service decides, which
`--unordered` checks: each topic whole, in `UNORDERED_TOPICS` order (orders last),
instead of the generator's time order across topics. Within a topic the generator's
order is kept in both modes, so each partition stays in time order.
"""

from __future__ import annotations

from collections.abc import Sequence

from schemas import INBOUND_TOPICS
from workload.generator import Published

#: `--unordered`: the topics one after another, each whole, what an order needs first last
UNORDERED_TOPICS: tuple[str, ...] = ("case-actions", "payments", "messages",
                                     "carrier-tracking", "orders")
assert sorted(UNORDERED_TOPICS) == sorted(INBOUND_TOPICS)


def in_publish_order(items: Sequence[Published], unordered: bool = False) -> list[Published]:
    """The records as they are published: as generated (by time across the topics), or
    topic by topic in `UNORDERED_TOPICS` order; each topic's records in generated order."""
    if not unordered:
        return list(items)
    rank = {topic: n for n, topic in enumerate(UNORDERED_TOPICS)}
    return sorted(items, key=lambda item: rank[item.topic])  # stable: per topic as given


def describe(unordered: bool) -> str:
    if not unordered:
        return "in time order across the topics"
    return "topic by topic, each whole: " + ", ".join(UNORDERED_TOPICS)
