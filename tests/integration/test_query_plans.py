"""The unit of work's statements stay index lookups on tables that grew after they were
prepared (storage/planner.py), on a real PostgreSQL."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql
from service.apply import apply_batch
from storage.unit_of_work import unit_of_work

from domain.policy import Policy
from domain.records import InboundRecord
from service.unit_of_work import Cause, Inbound
from tests.builders import add_tracking, captured, delivered, message, open_case, placed

POLICY = Policy()
#: what a plan may not do to a table: read all of it
WHOLE_TABLE = ("Seq Scan on", "Hash Join", "Merge Join")


def _batch(n: int) -> list[Inbound]:
    """One order's life so far, touching every table a batch writes."""
    order_id, parcel = f"plan-{n}", f"P{n}"
    records: list[InboundRecord] = [
        placed(order_id), captured(order_id), message(order_id), open_case(order_id),
        add_tracking(order_id, tracking_number=parcel), delivered(tracking_number=parcel)]
    return [Inbound(Cause("t", 0, i, r.event_id), r) for i, r in enumerate(records)]


@pytest.mark.integration
def test_prepared_on_empty_tables_the_statements_stay_key_lookups(empty_database):
    with psycopg.connect(empty_database, autocommit=True) as conn:
        # PostgreSQL caches a generic plan after five executions: made here, while every
        # table holds a few rows, when a scan of the whole table is the cheapest plan
        for n in range(8):
            with unit_of_work(conn, POLICY) as uow:
                apply_batch(uow, _batch(n), POLICY)
        conn.execute("INSERT INTO orders (order_id, state) "
                     "SELECT 'grown-' || g, '{}'::jsonb FROM generate_series(1, 20000) g")
        statements = conn.execute(
            "SELECT name, statement, cardinality(parameter_types) "
            "FROM pg_prepared_statements WHERE statement ~* '(orders|inbox|sellers|"
            "carrier_reports|case_proofs|case_events)'").fetchall()
        assert len(statements) >= 10
        for name, statement, parameters in statements:
            with unit_of_work(conn, POLICY):  # the settings every batch runs with
                conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
                explain = sql.SQL("EXPLAIN EXECUTE {}({})").format(
                    sql.Identifier(name), sql.SQL(", ").join([sql.NULL] * parameters))
                plan = "\n".join(row[0] for row in conn.execute(explain).fetchall())
            assert not [w for w in WHOLE_TABLE if w in plan], f"{statement}\n{plan}"
