"""Two sessions storing overlapping batches, as the members of a group do while a slow
member's partitions move to another: whatever order each batch holds its records in,
they wait for each other and one of them stores each record; neither deadlocks."""

from __future__ import annotations

import threading

import psycopg

from domain.records import InboundRecord
from service.unit_of_work import Cause, Claimed, Inbound
from storage.records import PostgresStore
from storage.transaction import transaction
from tests.builders import fields_of, placed
from tests.integration.conftest import wait_for


def _inbound(record: InboundRecord) -> Inbound:
    return Inbound(Cause("orders", 0, 0, record.event_id), fields_of(record),
                   f"print-{record.event_id}".encode(), b"payload")


def _waiting(db: psycopg.Connection, sessions: int) -> None:
    wait_for(lambda: db.execute(
        "SELECT count(*) >= %s FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        "AND datname = current_database()", (sessions,)).fetchone()[0],
        30, f"{sessions} session(s) to wait for a lock")


def test_overlapping_batches_in_opposite_orders_wait_for_each_other(
        empty_database: str) -> None:
    a, held, b = (placed(order_id=f"o-{n}", event_id=f"e-{n}") for n in ("a", "m", "z"))
    outcomes: dict[str, Claimed | BaseException] = {}

    def store(name: str, records: list[InboundRecord]) -> None:
        try:
            with psycopg.connect(empty_database, autocommit=True) as conn, \
                    transaction(conn):
                outcomes[name] = PostgresStore(conn).store([_inbound(r) for r in records])
        except BaseException as exc:  # the test reads it
            outcomes[name] = exc

    with psycopg.connect(empty_database, autocommit=True) as db, \
            psycopg.connect(empty_database) as blocker:
        # a third session holds the middle record's row, uncommitted
        blocker.execute(
            "INSERT INTO order_records (event_id, order_id, occurred_at, record_type, topic, "
            '"partition", "offset", "timestamp", payload) VALUES (%s, %s, %s, '
            "'OrderPlaced', 'orders', 0, 0, 0, %s)",
            (held.event_id, held.order_id, held.occurred_at, b""))
        first = threading.Thread(target=store, args=("first", [a, held, b]))
        first.start()
        _waiting(db, 1)
        second = threading.Thread(target=store, args=("second", [b, held, a]))
        second.start()
        _waiting(db, 2)
        blocker.rollback()
        first.join(30)
        second.join(30)

    errors = {n: o for n, o in outcomes.items() if isinstance(o, BaseException)}
    assert not errors, errors  # a deadlock would abort one of them
    claims = [o for o in outcomes.values() if isinstance(o, Claimed)]
    assert sorted(len(c.fresh) for c in claims) == [0, 3]
    assert sorted(c.duplicates for c in claims) == [0, 3]
