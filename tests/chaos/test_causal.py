"""The causal feed: each order's records go out only once its previous record (on
another topic, or under another key) is applied; other orders are not held up."""

from __future__ import annotations

from collections import deque

from chaos.causal import CausalFeed, order_of_each
from workload.generator import Published


def _item(topic: str, key: str, event_id: str, **fields: str) -> Published:
    return Published(topic, key, {"event_id": event_id, "type": "T", **fields})


ITEMS = [
    _item("orders", "o1", "a", order_id="o1"),
    _item("orders", "o1", "b", order_id="o1", type="OrderShipped", carrier="dhl",
          tracking_number="T1"),
    _item("carrier-tracking", "dhl:T1", "c", carrier="dhl", tracking_number="T1"),
    _item("orders", "o2", "d", order_id="o2"),
    _item("payments", "o1", "e", order_id="o1"),
]


def test_a_carrier_record_belongs_to_the_order_that_shipped_its_parcel():
    assert order_of_each(ITEMS) == ["o1", "o1", "o1", "o2", "o1"]


class _Feed(CausalFeed):
    """Applies what it published after `lag` more looks at the inbox."""

    def __init__(self, items: list[Published], lag: int = 1) -> None:
        super().__init__(items, database_url="unused", stall_timeout=5)
        self.sent: list[str] = []
        self.in_flight: deque[tuple[int, str]] = deque()
        self.looks = 0
        self.lag = lag

    def __iter__(self):  # type: ignore[override]  # a fake narrows the signature
        for item in super().__iter__():
            self.sent.append(item.record["event_id"])
            self.in_flight.append((self.looks + self.lag, item.record["event_id"]))
            yield item

    # type: ignore below: a fake narrows the signature
    def _refresh(self, queues, waits_for) -> bool:  # type: ignore[override]
        self.looks += 1
        applied = False
        while self.in_flight and self.in_flight[0][0] <= self.looks:
            self._applied.add(self.in_flight.popleft()[1])
            applied = True
        return applied


def test_records_wait_for_their_order_but_not_for_other_orders():
    feed = _Feed(ITEMS)
    assert [i.record["event_id"] for i in feed] == feed.sent
    # b follows a on the same topic and key: no wait; c (another topic) waits for b,
    # d (another order) overtakes it, e waits for c
    assert feed.sent == ["a", "b", "d", "c", "e"]
    assert feed.held_back == 2 and feed.forced == 0


def test_a_predecessor_that_is_never_applied_is_released_after_the_timeout():
    feed = _Feed(ITEMS, lag=10**9)
    feed.stall_timeout = 0.3
    assert sorted(i.record["event_id"] for i in feed) == ["a", "b", "c", "d", "e"]
    assert feed.forced == 2
