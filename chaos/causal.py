"""The workload in publish order, with each order's records applied in the order they
happened, however far one consumer falls behind another.

Why: the service decides each record on the state its order has when the record is
applied, and records of one order on different topics race (a refund on `payments`
against the OpenCase on `case-actions`, a seller's message against the case it answers).
Which side wins changes the case events (RefundRecorded or not, the case closed by the
refund or by the opening, seller_took_part_at), so two runs without any fault already
differ wherever two topics' consumers ran at different speeds; a killed consumer, which
stalls its topic for seconds, makes that certain. Comparing the chaos run with the
baseline then measures the race, not the faults.

So a record is held back until the previous record of its order has been applied (its
event_id is in the inbox), unless that record went to the same topic with the same key,
where Kafka keeps the order anyway. Other orders' records flow on at the steady rate.
A carrier feed's record belongs to the order whose OrderShipped or AddTracking names its
parcel. A record whose predecessor is never applied is released after `stall_timeout`
(and counted): a lost record must not hang the run, it must show in the figures.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import psycopg

from workload.generator import Published

POLL = 0.1  # seconds between looks at the inbox while everything left is held back


def order_of_each(items: Sequence[Published]) -> list[str | None]:
    """The order each record belongs to (None: a parcel no order names)."""
    parcels: dict[tuple[str, str], str] = {}
    for item in items:
        record = item.record
        if record["type"] in ("OrderShipped", "AddTracking"):
            parcels.setdefault((record["carrier"], record["tracking_number"]),
                               record["order_id"])
    return [item.record.get("order_id")
            or parcels.get((item.record.get("carrier", ""),
                            item.record.get("tracking_number", "")))
            for item in items]


@dataclass
class CausalFeed:
    items: Sequence[Published]
    database_url: str
    stall_timeout: float = 600.0
    #: records that had to wait for their predecessor, and the longest wait (seconds)
    held_back: int = 0
    longest_wait: float = 0.0
    #: records released without their predecessor applied (after `stall_timeout`)
    forced: int = 0
    _applied: set[str] = field(default_factory=set)
    _conn: psycopg.Connection | None = None

    def __iter__(self) -> Iterator[Published]:
        orders = order_of_each(self.items)
        # the index of each record's predecessor in its order, if it must be applied first
        previous: dict[str, int] = {}
        waits_for: list[int | None] = []
        for index, (item, order) in enumerate(zip(self.items, orders, strict=True)):
            before = previous.get(order) if order is not None else None
            same_stream = (before is not None and self.items[before].topic == item.topic
                           and self.items[before].key == item.key)
            waits_for.append(None if before is None or same_stream else before)
            if order is not None:
                previous[order] = index

        queues: dict[str, deque[int]] = {}  # per order, its held-back records in order
        since: dict[int, float] = {}  # when each held-back record was first held
        cursor = 0
        progress_at = refreshed_at = time.monotonic()
        while cursor < len(self.items) or queues:
            now = time.monotonic()
            if queues and now - refreshed_at >= POLL:
                refreshed_at = now
                if self._refresh(queues, waits_for):
                    for index in self._release(queues, waits_for):
                        self.longest_wait = max(self.longest_wait, now - since.pop(index))
                        progress_at = now
                        yield self.items[index]
            if cursor < len(self.items):
                index, cursor = cursor, cursor + 1
                order = orders[index]
                if order is not None and (order in queues or not self._may_go(index, waits_for)):
                    queues.setdefault(order, deque()).append(index)
                    since[index] = now
                    self.held_back += 1
                    continue
                progress_at = now
                yield self.items[index]
                continue
            if now - progress_at > self.stall_timeout:  # only held-back records are left
                yield from self._force(queues)
                continue
            time.sleep(POLL)

    def _may_go(self, index: int, waits_for: list[int | None]) -> bool:
        before = waits_for[index]
        return before is None or self.items[before].record["event_id"] in self._applied

    def _release(self, queues: dict[str, deque[int]], waits_for: list[int | None]) -> list[int]:
        """The held-back records that may go now, in publish order."""
        ready = []
        for order in list(queues):
            queue = queues[order]
            while queue and self._may_go(queue[0], waits_for):
                ready.append(queue.popleft())
                # the next one waits for this one to be applied, unless same stream
                if queue and waits_for[queue[0]] is not None:
                    break
            if not queue:
                del queues[order]
        return sorted(ready)

    def _force(self, queues: dict[str, deque[int]]) -> Iterator[Published]:
        stuck = sorted(i for queue in queues.values() for i in queue)
        queues.clear()
        self.forced += len(stuck)
        for index in stuck:
            yield self.items[index]

    def _refresh(self, queues: dict[str, deque[int]], waits_for: list[int | None]) -> bool:
        """Look up in the inbox whether the records the queues wait for were applied;
        True when some were."""
        wanted = [self.items[b].record["event_id"] for queue in queues.values()
                  if (b := waits_for[queue[0]]) is not None]
        wanted = [w for w in wanted if w not in self._applied]
        if not wanted:
            return False
        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(self.database_url, autocommit=True,
                                             connect_timeout=5)
            rows = self._conn.execute("SELECT event_id FROM inbox WHERE event_id = ANY(%s)",
                                      (wanted,)).fetchall()
        except psycopg.OperationalError:  # PostgreSQL restarting: look again later
            if self._conn is not None:
                self._conn.close()
            self._conn = None
            return False
        self._applied.update(r[0] for r in rows)
        return bool(rows)
