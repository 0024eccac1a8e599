"""A pass over a backlog holds one chunk's unit of work at a time, not every chunk's
until it ends (each holds the queue rows and sellers it read), on a real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import gc
import weakref
from typing import Any

import psycopg
import pytest

import sweeper.decisions as pass_module
from domain.policy import Policy
from schemas.codec import shared_codec
from service.decide import decide_until
from service.store import store_batch
from service.unit_of_work import Cause, Inbound, PartitionStep
from storage.decisions import PostgresDecisions
from storage.records import PostgresStore
from storage.transaction import transaction
from tests.builders import captured, fields_of, placed

ORDERS = 6
FAR = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


def _backlog() -> list[Inbound]:
    codec = shared_codec()
    records = [r for n in range(ORDERS) for r in (placed(f"mem-{n}"), captured(f"mem-{n}"))]
    return [Inbound(Cause("t", 0, i, r.event_id), fields_of(r), r.event_id.encode(),
                    codec.encode(fields_of(r))) for i, r in enumerate(records)]


@pytest.mark.integration
def test_a_pass_lets_each_chunks_unit_of_work_go_before_the_next(empty_database, monkeypatch):
    alive: list[weakref.ref[PostgresDecisions]] = []
    most_alive = 0

    class Watched(PostgresDecisions):
        def __init__(self, *args: Any) -> None:
            nonlocal most_alive
            gc.collect()
            alive.append(weakref.ref(self))
            most_alive = max(most_alive, sum(ref() is not None for ref in alive))
            super().__init__(*args)

    monkeypatch.setattr(pass_module, "PostgresDecisions", Watched)
    # a chunk per order: the pass runs one unit of work for each, and a few more
    monkeypatch.setattr(pass_module, "decide_until",
                        lambda units, until, policy: decide_until(units, until, policy, 1))
    with psycopg.connect(empty_database, autocommit=True) as conn:
        with transaction(conn):
            store_batch(PostgresStore(conn), _backlog(), [PartitionStep("t", 0, 2 * ORDERS,
                                                                        None)])
        report = pass_module.decide_pass(conn, FAR, Policy())
    assert report.orders == ORDERS and report.records == 2 * ORDERS
    assert len(alive) > ORDERS
    # the one being made, and the one before it while the loop's variable names it
    assert most_alive <= 2
