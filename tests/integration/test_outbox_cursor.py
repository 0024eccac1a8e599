"""The outbox is published up to a cursor: appends of case events commit in seq order
(each holds the append lock to its commit), and the relay marks a batch with one row,
never rewriting an event's row."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from dataclasses import replace
from typing import Any

import psycopg

from configuration import Settings
from relay.outbox import OutboxRelay
from schemas.codec import shared_codec
from service.unit_of_work import Cause, Inbound
from storage.records import PostgresStore
from storage.transaction import OUTBOX_APPEND_LOCK, transaction
from storage.views import case_report
from sweeper.decisions import decide_pass
from tests.integration.conftest import wait_for
from tests.integration.scenario import Scenario

#: after the case opened, before any time rule is due for it
UNTIL = dt.datetime(2026, 3, 12, 10, 0, tzinfo=dt.UTC)


def _store(url: str, *items: tuple[str, dict[str, Any]]) -> None:
    codec = shared_codec()
    inbound = [Inbound(Cause(topic, 0, n, record["event_id"]), record,
                       f"print-{record['event_id']}".encode(), codec.encode(record))
               for n, (topic, record) in enumerate(items)]
    with psycopg.connect(url, autocommit=True) as conn, transaction(conn):
        PostgresStore(conn).store(inbound)


def _with_case(url: str, order_id: str) -> None:
    s = Scenario(order_id)
    _store(url, s.placed(), s.captured(), s.open_case())


def _versions(db: psycopg.Connection) -> list[tuple[int, str, str]]:
    return db.execute("SELECT seq, xmin::text, ctid::text FROM case_events ORDER BY seq"
                      ).fetchall()


def test_an_append_waits_for_the_append_before_it_to_commit(
        empty_database: str, settings: Settings) -> None:
    _with_case(empty_database, f"o-{uuid.uuid4()}")
    decided: list[BaseException | int] = []

    def sweep() -> None:
        try:
            with psycopg.connect(empty_database, autocommit=True) as conn:
                decided.append(decide_pass(conn, UNTIL, settings.policy).events)
        except BaseException as exc:  # the test reads it
            decided.append(exc)

    with psycopg.connect(empty_database, autocommit=True) as db, \
            psycopg.connect(empty_database) as earlier:
        # an earlier append, not committed yet: it holds the lock as an append does
        earlier.execute("SELECT pg_advisory_xact_lock(%s)", (OUTBOX_APPEND_LOCK,))
        thread = threading.Thread(target=sweep)
        thread.start()
        wait_for(lambda: db.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'advisory' "
            "AND datname = current_database()").fetchone()[0], 30,
            "the sweeper's append to wait for the earlier one")
        assert db.execute("SELECT count(*) FROM case_events").fetchone()[0] == 0
        earlier.commit()
        thread.join(30)
        assert decided and decided[0] == 1, decided
        assert db.execute("SELECT count(*) FROM case_events").fetchone()[0] == 1


def test_the_relay_marks_what_it_published_without_rewriting_events(
        empty_database: str, settings: Settings) -> None:
    orders = [f"o-{uuid.uuid4()}" for _ in range(3)]
    for order_id in orders:
        _with_case(empty_database, order_id)
    with psycopg.connect(empty_database, autocommit=True) as db:
        assert decide_pass(db, UNTIL, settings.policy).events == 3
        appended = _versions(db)
        stop = threading.Event()
        relay = OutboxRelay(replace(settings, database_url=empty_database), stop)
        thread = threading.Thread(target=relay.run, daemon=True)
        thread.start()
        try:
            wait_for(lambda: db.execute(
                "SELECT count(*) = 0 FROM unpublished_case_events").fetchone()[0], 60,
                "the relay to publish")
        finally:
            stop.set()
            thread.join(60)
        last = db.execute("SELECT max(seq) FROM case_events").fetchone()[0]
        assert db.execute("SELECT max(through_seq) FROM case_events_published"
                          ).fetchone()[0] == last
        # a row rewritten is a new version, written by another transaction
        assert _versions(db) == appended, "publishing rewrote case_events rows"
        timeline = case_report(db, orders[1], settings.policy)["timeline"]
        assert [step["published_at"] is not None for step in timeline] == [True]
