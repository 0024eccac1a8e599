"""The least-privilege runtime role (deploy/database-role.sql, docs/database-role.md):
in a database of its own, migrated by the owner, the service's work runs as a login role
that is a member of order_cases_runtime (a batch of every table's kind of change, the
relay publishing to Kafka, `cases sweep`, `cases show`), and what it must not do fails."""

from __future__ import annotations

import contextlib
import datetime as dt
import glob
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from cases_cli.preflight import pending_migrations
from configuration import Settings
from relay.outbox import OutboxRelay
from schemas.codec import shared_codec
from service.store import Stored, store_batch
from service.unit_of_work import Cause, Inbound, PartitionStep
from storage.migrate import migrate
from storage.records import PostgresStore
from storage.transaction import transaction
from sweeper.decisions import decide_pass
from tests.integration.conftest import published_events, wait_for
from tests.integration.scenario import Scenario

pytestmark = pytest.mark.integration

ROLE_SQL = Path(__file__).resolve().parents[2] / "deploy" / "database-role.sql"
GROUP = "order_cases_runtime"


def _psql() -> str:
    found = shutil.which("psql") or next(
        iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"), reverse=True)), None)
    if found is None:
        pytest.skip("psql is needed to apply deploy/database-role.sql as documented")
    return found


def _url(url: str, *, user: str | None = None, database: str | None = None) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc
    if user is not None:
        netloc = f"{user}@{netloc.rsplit('@', 1)[-1]}"
    path = f"/{database}" if database is not None else parts.path
    return urlunsplit(parts._replace(netloc=netloc, path=path))


@dataclass
class RoleDb:
    owner_url: str
    runtime: Settings  # the service's settings, logging in as the runtime role
    env: dict[str, str]
    batch: Stored
    second_batch: Stored
    refused: int
    orders: dict[str, Scenario]


def _inbound(items: list[tuple[str, dict[str, Any]]]) -> list[Inbound]:
    codec = shared_codec()
    return [Inbound(Cause(topic, 0, n, record["event_id"]), record,
                    record["event_id"].encode(), codec.encode(record))
            for n, (topic, record) in enumerate(items)]


#: after every record below, before any of their deadlines
DECIDED_UNTIL = dt.datetime(2026, 3, 13, 19, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def role_db(settings: Settings, env: dict[str, str]) -> Iterator[RoleDb]:
    suffix = uuid.uuid4().hex[:8]
    database, login = f"cases_role_{suffix}", f"cases_app_{suffix}"
    owner_url = _url(settings.database_url, database=database)
    with psycopg.connect(settings.database_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    try:
        migrate(owner_url)  # the owner applies the schema ...
        subprocess.run([_psql(), owner_url, "-q", "-v", "ON_ERROR_STOP=1", "-f", str(ROLE_SQL)],
                       check=True, capture_output=True, text=True, timeout=60)
        with psycopg.connect(owner_url, autocommit=True) as owner:  # ... and the login
            owner.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE {}").format(
                sql.Identifier(login), sql.Identifier(GROUP)))
        runtime = replace(settings, database_url=_url(owner_url, user=login))
        yield _work_as_runtime(owner_url, runtime, env)
    finally:
        with psycopg.connect(settings.database_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(database)))
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(login)))
            # the group role is the cluster's: another database may still grant it
            with contextlib.suppress(psycopg.errors.DependentObjectsStillExist):
                admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(GROUP)))


def _work_as_runtime(owner_url: str, runtime: Settings, env: dict[str, str]) -> RoleDb:
    """Batches touching every table, one per topic as the consumers make them, applied
    twice (the second time all duplicates)."""
    base = f"role-{uuid.uuid4().hex[:8]}"
    delivered, pending = Scenario(f"{base}-delivered"), Scenario(f"{base}-pending")
    batches = [_inbound(items) for items in (
        [delivered.placed(), pending.placed()],
        [delivered.open_case(), delivered.support("suspend_seller", reason="seller_inactivity"),
         delivered.add_tracking(), pending.open_case(at="2026-03-12T09:00:00Z")],
        [delivered.delivered(at="2026-03-13T18:00:00Z")],
        [("payments", {**delivered.refund(100)[1],
                       "amount": {"amount_minor": 100, "currency": "USD"}})],  # invalid
    )]
    # `cases run` checks, as this role, that nothing is pending (it cannot migrate)
    assert pending_migrations(runtime.database_url) == []
    outcomes = []
    with psycopg.connect(runtime.database_url, autocommit=True) as conn:
        for _ in range(2):
            total = Stored()
            for items in batches:
                with transaction(conn):
                    steps = [PartitionStep(topic, 0, len(items), max(
                        i.record.occurred_at for i in items if i.cause.topic == topic))
                             for topic in sorted({i.cause.topic for i in items})]
                    outcome = store_batch(PostgresStore(conn), items, steps)
                total.stored += outcome.stored
                total.duplicates += outcome.duplicates
            outcomes.append(total)
        refused = decide_pass(conn, DECIDED_UNTIL, runtime.policy).refused
    runtime_env = {**env, "DATABASE_URL": runtime.database_url}
    return RoleDb(owner_url, runtime, runtime_env, outcomes[0], outcomes[1], refused,
                  {"delivered": delivered, "pending": pending})


def _types(db_url: str, order_id: str) -> list[str]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        return [r[0] for r in conn.execute(
            "SELECT type FROM case_events WHERE order_id = %s ORDER BY seq", (order_id,))]


def test_batches_and_decisions_run_as_the_runtime_role(role_db):
    assert role_db.batch.stored == 8  # the USD refund among them: bad only once decided
    assert (role_db.second_batch.stored, role_db.second_batch.duplicates) == (0, 8)
    assert role_db.refused == 1  # the USD refund: to the dead-letter outbox
    delivered = role_db.orders["delivered"].order_id
    assert _types(role_db.owner_url, delivered) == [
        "CaseOpened", "SellerSuspended", "TrackingAdded", "CaseClosed",
        "SellerReinstatementEligible"]


def test_the_relay_publishes_as_the_runtime_role(role_db, settings):
    stop = threading.Event()
    relay = OutboxRelay(role_db.runtime, stop)
    thread = threading.Thread(target=relay.run, daemon=True)
    thread.start()
    try:
        def unpublished() -> int:
            with psycopg.connect(role_db.owner_url, autocommit=True) as conn:
                return conn.execute("SELECT count(*) FROM unpublished_case_events"
                                    ).fetchone()[0]
        wait_for(lambda: unpublished() == 0, timeout=60, what="the relay to publish")
    finally:
        stop.set()
        thread.join(60)
    assert relay.published >= 6
    delivered = role_db.orders["delivered"].order_id
    on_kafka = wait_for(lambda: published_events(settings, delivered), what="case events")
    assert [e["type"] for e in on_kafka][:2] == ["CaseOpened", "SellerSuspended"]


def test_cases_sweep_and_show_run_as_the_runtime_role(role_db):
    pending = role_db.orders["pending"].order_id
    for args in (["sweep", "--now", "2026-03-15T09:00:00Z"], ["show", pending]):
        result = subprocess.run([sys.executable, "-m", "cases_cli.main", *args],
                                env=role_db.env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
    assert "CaseEscalated" in result.stdout  # `show` prints what the sweep did
    assert _types(role_db.owner_url, pending) == ["CaseOpened", "CaseEscalated"]


FORBIDDEN = {
    "drop a table": "DROP TABLE case_events",
    "alter a table": "ALTER TABLE orders ADD COLUMN note text",
    "create a table": "CREATE TABLE notes (id int)",
    "create a temporary table": "CREATE TEMPORARY TABLE notes (id int)",
    "truncate the records": "TRUNCATE order_records",
    "delete an order": "DELETE FROM orders",
    "delete case history": "DELETE FROM case_events",
    "rewrite case history": "UPDATE case_events SET record = '{}'::jsonb",
    "change an order's id": "UPDATE orders SET order_id = order_id || 'x'",
    "take a publication mark back": "DELETE FROM case_events_published",
    "move the publication cursor": "UPDATE case_events_published SET through_seq = 0",
    "record a migration": "DELETE FROM _yoyo_migration",
    "create a role": "CREATE ROLE intruder",
    "create a function": "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
}


@pytest.mark.parametrize("what", FORBIDDEN)
def test_the_runtime_role_cannot(role_db, what):
    with (psycopg.connect(role_db.runtime.database_url, autocommit=True) as conn,
          pytest.raises(psycopg.errors.InsufficientPrivilege)):
        conn.execute(FORBIDDEN[what])
