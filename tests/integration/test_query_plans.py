"""The units of work's statements stay index lookups on tables that grew after they were
prepared (storage/planner.py), on a real PostgreSQL."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest
from psycopg import sql

from domain.policy import Policy
from domain.records import InboundRecord
from schemas.codec import shared_codec
from service.store import store_batch
from service.unit_of_work import Cause, Inbound, PartitionStep
from storage.records import PostgresStore
from storage.transaction import transaction
from sweeper.decisions import decide_pass
from tests.builders import (
    add_tracking,
    captured,
    delivered,
    fields_of,
    message,
    open_case,
    placed,
)

POLICY = Policy()
FAR = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
#: what a plan may not do to a table: read all of it
WHOLE_TABLE = ("Seq Scan on", "Hash Join", "Merge Join")


def _batch(n: int) -> list[Inbound]:
    """One order's life so far, touching every table a batch writes."""
    order_id, parcel = f"plan-{n}", f"P{n}"
    records: list[InboundRecord] = [
        placed(order_id), captured(order_id), message(order_id), open_case(order_id),
        add_tracking(order_id, tracking_number=parcel), delivered(tracking_number=parcel)]
    codec = shared_codec()
    return [Inbound(Cause("t", 0, i, r.event_id), fields_of(r), r.event_id.encode(),
                    codec.encode(fields_of(r))) for i, r in enumerate(records)]


def _store_and_decide(conn: psycopg.Connection) -> None:
    """Eight batches stored and decided: PostgreSQL caches a generic plan after five
    executions, made here while every table holds a few rows."""
    for n in range(8):
        with transaction(conn):
            store_batch(PostgresStore(conn), _batch(n),
                        [PartitionStep("t", 0, 6 * n + 6, None)])
        decide_pass(conn, FAR, POLICY)


def _generic_plan(conn: psycopg.Connection, name: str, parameters: int) -> str:
    """The generic plan of a prepared statement, with the settings every batch runs with."""
    with transaction(conn):
        conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        explain = sql.SQL("EXPLAIN EXECUTE {}({})").format(
            sql.Identifier(name), sql.SQL(", ").join([sql.NULL] * parameters))
        return "\n".join(row[0] for row in conn.execute(explain).fetchall())


@pytest.mark.integration
def test_prepared_on_empty_tables_the_statements_stay_key_lookups(empty_database):
    with psycopg.connect(empty_database, autocommit=True) as conn:
        # PostgreSQL caches a generic plan after five executions: made here, while every
        # table holds a few rows, when a scan of the whole table is the cheapest plan
        _store_and_decide(conn)
        conn.execute("INSERT INTO orders (order_id, state) "
                     "SELECT 'grown-' || g, '{}'::jsonb FROM generate_series(1, 20000) g")
        conn.execute("INSERT INTO order_records (event_id, order_id, occurred_at, record_type,"
                     ' topic, "partition", "offset", "timestamp", payload) '
                     "SELECT 'grown-' || g, 'grown-' || g, now(), 'OrderCancelled', 't', 0, g, "
                     "0, '' FROM generate_series(1, 20000) g")
        conn.execute("INSERT INTO undecided_records (order_id, occurred_at, event_id) "
                     "SELECT order_id, occurred_at, event_id FROM order_records "
                     "WHERE event_id LIKE 'grown-%'")
        statements = conn.execute(
            "SELECT name, statement, cardinality(parameter_types) "
            "FROM pg_prepared_statements WHERE statement ~* '(orders|inbox|sellers|"
            "order_records|parcel_reports|case_proofs|case_events|inbound_progress|"
            "undecided_records|undecided_reports)'"
        ).fetchall()
        assert len(statements) >= 10
        for name, statement, parameters in statements:
            plan = _generic_plan(conn, name, parameters)
            assert not [w for w in WHOLE_TABLE if w in plan], f"{statement}\n{plan}"


@pytest.mark.integration
def test_an_orders_undecided_records_are_found_by_order_whatever_the_queue_holds(
        empty_database):
    """A pass of a few orders reads their undecided records by order, not every record
    the queue holds (a plan that did made a pass of a few orders take a second)."""
    with psycopg.connect(empty_database, autocommit=True) as conn:
        _store_and_decide(conn)
        conn.execute("INSERT INTO order_records (event_id, order_id, occurred_at, record_type,"
                     ' topic, "partition", "offset", "timestamp", payload) '
                     "SELECT 'grown-' || g, 'grown-' || (g / 7), now(), 'OrderCancelled', 't', "
                     "0, g, 0, '' FROM generate_series(1, 50000) g")
        conn.execute("INSERT INTO undecided_records (order_id, occurred_at, event_id) "
                     "SELECT order_id, occurred_at, event_id FROM order_records "
                     "WHERE event_id LIKE 'grown-%'")
        conn.execute("ANALYZE order_records")
        conn.execute("ANALYZE undecided_records")
        (name, parameters), = conn.execute(
            "SELECT name, cardinality(parameter_types) FROM pg_prepared_statements "
            "WHERE statement LIKE %s", ("%WHERE u.order_id = ANY(%",)).fetchall()
        plan = _generic_plan(conn, name, parameters)
        assert "undecided_records_pkey" in plan, plan
        assert not [w for w in WHOLE_TABLE if w in plan], plan
