"""A rebalance while a consumer waits for PostgreSQL must not lose records.

The consumer pauses its partitions and keeps polling (so the group keeps it) while it
retries a batch against an absent database. If its group rebalances meanwhile, the
partitions it gains are not paused, so those polls return their records; `make chaos`
staged exactly that (a member killed just before a database outage). A record dropped
there is lost: the offsets stored after it skip it.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import psycopg
import pytest

import consumers.storing as storing
from configuration import Settings
from consumers import CONSUMERS
from consumers.loop import TopicConsumer
from schemas.json_form import from_json
from service.unit_of_work import Inbound
from tests.integration.conftest import produce, wait_for

pytestmark = pytest.mark.integration


def _cancellations(count: int, tag: str) -> list[dict[str, Any]]:
    return [from_json("orders", {"event_id": f"{tag}-{n}", "type": "OrderCancelled",
                                 "occurred_at": "2026-03-01T10:00:00Z",
                                 "order_id": f"{tag}-order-{n}"})
            for n in range(count)]


def test_records_of_partitions_gained_during_a_database_outage_are_not_lost(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    tag = f"rebalance-{uuid.uuid4().hex[:8]}"
    group = f"test-{tag}"
    seen: set[str] = set()
    lock = threading.Lock()
    real_store_batch = storing.store_batch

    def spying_store_batch(uow: Any, items: list[Inbound], steps: Any) -> Any:
        outcome = real_store_batch(uow, items, steps)
        with lock:  # only reached once the transaction could run
            seen.update(i.cause.event_id for i in items)
        return outcome

    monkeypatch.setattr(storing, "store_batch", spying_store_batch)

    database_down = threading.Event()
    # a group of the test's own, whose reading does not move the service's watermark
    waiting, leaving = (TopicConsumer(CONSUMERS["orders"], settings, group=group,
                                      moves_progress=False) for _ in range(2))
    real_connection = waiting.store.connection

    def connection() -> psycopg.Connection:
        if database_down.is_set():
            raise psycopg.OperationalError("the database is away (test)")
        return real_connection()

    monkeypatch.setattr(waiting.store, "connection", connection)
    threads = [threading.Thread(target=c.run, daemon=True) for c in (waiting, leaving)]
    for thread in threads:
        thread.start()
    try:
        # both members hold partitions and have caught up with the topic's history
        produce(settings, "orders", _cancellations(40, f"{tag}-warm"))
        wait_for(lambda: all(f"{tag}-warm-{n}" in seen for n in range(40)), 90,
                 "both members to consume")

        database_down.set()
        produce(settings, "orders", _cancellations(200, f"{tag}-a"))
        time.sleep(2)  # `waiting` now holds a batch it cannot apply, its partitions paused
        leaving.stop.set()  # leaves the group: its partitions go to `waiting`
        threads[1].join(30)
        produce(settings, "orders", _cancellations(200, f"{tag}-b"))
        time.sleep(15)  # polls keep the membership while the database stays away
        database_down.clear()

        expected = {r["event_id"] for r in _cancellations(200, f"{tag}-a")
                    + _cancellations(200, f"{tag}-b")}
        try:
            wait_for(lambda: expected <= seen, 60, "every record to be applied")
        except AssertionError:
            missing = sorted(expected - seen)
            raise AssertionError(f"{len(missing)} record(s) never applied: {missing[:5]}") \
                from None
    finally:
        waiting.stop.set()
        leaving.stop.set()
        for thread in threads:
            thread.join(30)
