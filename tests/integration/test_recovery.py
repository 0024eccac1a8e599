"""The operator's recovery tools on the real broker and database: `cases replay` (also as
a rebuild of an empty database) and `cases dlq list|redrive` (docs/contract.md, Replay)."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
import uuid
from typing import Any

import psycopg
import pytest
from confluent_kafka import Producer

from bootstrap.kafka import consumer_group
from configuration import Settings
from consumers.dead_letters import DeadLetter, dlq_headers, read_headers
from consumers.inbound import InboundMessage
from domain.order import Case
from schemas import INBOUND_TOPICS, dlq_topic
from schemas.codec import shared_codec
from storage import state_json
from tests.integration import clock
from tests.integration.conftest import (
    cases,
    committed,
    end_offsets,
    produce_raw,
    read_topic,
    send,
    wait_for,
    wait_for_db_events,
)
from tests.integration.scenario import Scenario

pytestmark = pytest.mark.integration


# ---- helpers -----------------------------------------------------------------------------

def wait_drained(settings: Settings, db: psycopg.Connection) -> None:
    """Every live consumer committed the end of its topic and the relay sent everything."""
    wait_for(lambda: all(committed(settings, t) == end_offsets(settings, t)
                         for t in INBOUND_TOPICS)
             and db.execute("SELECT count(*) FROM unpublished_case_events")
             .fetchone()[0] == 0, timeout=120, what="the live service to drain")


def _scenarios(prefix: str) -> tuple[list[str], list[tuple[str, dict[str, Any]]]]:
    """Several orders' lives over all five topics, sent in a scrambled order."""
    refunded, delivered, held, talked, escalated, refused = (
        Scenario(f"{prefix}-{n}") for n in
        ("refunded", "delivered", "held", "talked", "escalated", "refused"))
    items = [
        held.open_case(),  # before its order: held, then decided
        refunded.placed(), refunded.captured(), refunded.open_case(),
        refunded.refund(1000), refunded.refund(4000, at="2026-03-14T10:00:00Z"),
        delivered.delivered(), delivered.placed(), delivered.open_case(),
        delivered.add_tracking(),
        held.placed(), talked.placed(), talked.message(), talked.message("message", "seller"),
        escalated.placed(), escalated.open_case(), escalated.support("escalate"),
        refused.placed(), refused.open_case(actor="someone-else"),
    ]
    orders = [s.order_id for s in (refunded, delivered, held, talked, escalated, refused)]
    return orders, items


def _case_states(url: str, orders: list[str] | None = None) -> dict[str, Any]:
    """Each order's case (its state column and the whole case as stored): of `orders`,
    or of every order no time rule has touched (a replay stores records again; it
    repeats no sweep)."""
    with psycopg.connect(url) as conn:
        if orders is None:
            rows = conn.execute(
                """
                SELECT o.order_id, o.case_state, o.state->'case' FROM orders o
                WHERE NOT EXISTS (SELECT 1 FROM case_events e
                                  WHERE e.order_id = o.order_id AND e.cause_topic = 'sweeper')
                """).fetchall()
        else:
            rows = conn.execute("SELECT order_id, case_state, state->'case' FROM orders "
                                "WHERE order_id = ANY(%s)", (orders,)).fetchall()
    return {r[0]: (r[1], state_json.from_json(Case, r[2])) for r in rows}


def _summary_numbers(stdout: str) -> dict[str, int]:
    """`replayed T: 5 record(s), 0 stored, 5 already stored, 0 dead letter(s) in ...`
    summed over lines."""
    totals = {"records": 0, "stored": 0, "already": 0, "dead": 0}
    for line in stdout.splitlines():
        words = line.split(": ", 1)[1].replace(",", "").split()
        totals["records"] += int(words[0])
        totals["stored"] += int(words[2])
        totals["already"] += int(words[4])
        totals["dead"] += int(words[7])
    return totals


#: a moment after every record of `_scenarios`, before any of their deadlines
HORIZON = "2026-03-14T12:00:00Z"


# ---- replay and rebuild ------------------------------------------------------------------

def test_rebuild_of_an_empty_database_reaches_the_live_case_states(
        settings, env, service, db, empty_database):
    orders, items = _scenarios(f"rebuild-{uuid.uuid4().hex[:6]}")
    send(settings, *items)
    for order_id in orders:
        wait_for_db_events(db, order_id, 1)
    wait_drained(settings, db)
    # the live service decides up to the same moment the rebuild will (the last refund is
    # ahead of its watermark)
    assert cases(env, "sweep", "--now", HORIZON).returncode == 0

    rebuild_env = {**env, "DATABASE_URL": empty_database}
    rebuild = cases(rebuild_env, "replay", *INBOUND_TOPICS, "--from-offset", "0")
    assert rebuild.returncode == 0, rebuild.stderr
    assert _summary_numbers(rebuild.stdout)["stored"] > 0
    decided = cases(rebuild_env, "sweep", "--now", HORIZON)
    assert decided.returncode == 0, decided.stderr

    live = _case_states(settings.database_url, orders)
    assert set(orders) == set(live)
    assert _case_states(empty_database, orders) == live


def test_replay_from_the_beginning_changes_nothing_already_applied(
        settings, env, service, db, order_id):
    orders, items = _scenarios(order_id)
    send(settings, *items)
    for oid in orders:
        wait_for_db_events(db, oid, 1)
    wait_drained(settings, db)
    before = _case_states(settings.database_url)
    events_before = db.execute("SELECT count(*) FROM case_events").fetchone()[0]
    # records the sweeper refused as bad input left the inbox: a replay stores them again
    refused = db.execute("SELECT count(*) FROM dead_letter_outbox").fetchone()[0]

    replay = cases(env, "replay", *INBOUND_TOPICS, "--from-offset", "0")

    assert replay.returncode == 0, replay.stderr
    numbers = _summary_numbers(replay.stdout)
    assert numbers["records"] >= len(items)
    assert numbers["stored"] <= refused
    assert numbers["already"] >= len(items)
    assert _case_states(settings.database_url) == before
    assert db.execute("SELECT count(*) FROM case_events").fetchone()[0] == events_before


def test_replay_from_a_time_reads_only_what_came_after_it(settings, env, service, db,
                                                          empty_database, order_id):
    early, early_items = _scenarios(f"{order_id}-early")
    send(settings, *early_items)
    time.sleep(1.5)  # Kafka timestamps have millisecond resolution: a clear gap
    since = time.time()
    time.sleep(0.5)
    late, late_items = _scenarios(f"{order_id}-late")
    send(settings, *late_items)
    start = dt.datetime.fromtimestamp(since, dt.UTC).isoformat()

    replay = cases({**env, "DATABASE_URL": empty_database}, "replay", *INBOUND_TOPICS,
                   "--from-time", start)

    assert replay.returncode == 0, replay.stderr
    with psycopg.connect(empty_database) as conn:
        rebuilt = {r[0] for r in conn.execute("SELECT DISTINCT order_id FROM order_records")}
    assert rebuilt == set(late)
    assert not rebuilt & set(early)


def test_replay_of_a_topic_that_does_not_exist_is_a_clear_error(env):
    # argparse refuses unknown names; an inbound topic missing on the broker is checked too
    result = cases(env, "replay", "nowhere", "--from-offset", "0")
    assert result.returncode == 2 and "invalid choice" in result.stderr
    assert "Traceback" not in result.stderr


# ---- dead letters ------------------------------------------------------------------------

def _as_dead_letter(settings: Settings, topic: str, key: bytes, value: bytes,
                    letter: DeadLetter, position: tuple[int, int]) -> None:
    """Put a record on `<topic>.dlq` as an earlier, faulty consumer version would have."""
    original = InboundMessage(topic, position[0], position[1], key, value,
                              timestamp_type=1, timestamp=int(time.time() * 1000))
    producer = Producer(settings.kafka())
    producer.produce(dlq_topic(topic), key=key, value=value,
                     headers=dlq_headers(original, consumer_group(topic), letter))
    assert producer.flush(30) == 0


def test_dlq_list_and_redrive_after_a_fix(settings, env, service, db, order_id):
    s = Scenario(order_id)
    placed = s.placed()[1]
    original_offset = secrets.randbelow(10**9) + 10**9  # where it was, as the headers say
    # a good OrderPlaced that a buggy consumer version dead-lettered, and garbage
    _as_dead_letter(settings, "orders", order_id.encode(),
                    shared_codec().encode(clock.move_record(placed)),
                    DeadLetter("domain.decision.InvalidRecord", "a bug, since fixed"),
                    (0, original_offset))
    garbage_key = f"{order_id}-garbage".encode()
    produce_raw(settings, "orders", garbage_key, b"not avro at all")
    wait_for(lambda: read_topic(settings, "orders.dlq", lambda m: m.key() == garbage_key,
                                decode=False), what="the garbage to be dead-lettered")
    send(settings, s.open_case())  # held: its order is only in the DLQ

    listed = cases(env, "dlq", "list", "orders", "--json")
    assert listed.returncode == 0, listed.stderr
    entries = [json.loads(line) for line in listed.stdout.splitlines()]
    mine = [e for e in entries if e["original"] == f"orders/0/{original_offset}"]
    assert mine and mine[-1]["reason"] == "a bug, since fixed" and not mine[-1]["redriven"]
    assert any(e["error"] == "schemas.codec.DecodeError" for e in entries)
    assert "not avro" not in listed.stdout  # never the value

    redrive = cases(env, "dlq", "redrive", "orders")
    assert redrive.returncode == 0, redrive.stderr
    events = wait_for_db_events(db, order_id, 1)
    assert [e["type"] for e in events] == ["CaseOpened"]
    # the inbox names the original position of the redriven record
    placed_at = db.execute("SELECT topic, \"partition\", \"offset\" FROM inbox "
                           "WHERE event_id = %s", (placed["event_id"],)).fetchone()
    assert placed_at == ("orders", 0, original_offset)

    # the garbage failed again: back on the DLQ, with its original headers, nothing lost
    copies = read_topic(settings, "orders.dlq", lambda m: m.key() == garbage_key,
                        decode=False)
    assert len(copies) == 2
    first, again = (read_headers(m.headers()) for m in copies)
    assert again["kafka_dlt-original-offset"] == first["kafka_dlt-original-offset"]
    assert again["kafka_dlt-original-topic"] == "orders"
    assert again["kafka_dlt-original-consumer-group"] == "order-cases.redrive.orders"

    relisted = [json.loads(line) for line in
                cases(env, "dlq", "list", "orders", "--json").stdout.splitlines()]
    assert all(e["redriven"] for e in relisted if e["original"] == f"orders/0/{original_offset}")
    # a second redrive takes only what is on the DLQ anew (other tests' letters may be
    # there too): the garbage once more, and the redriven order is not stored again
    second = cases(env, "dlq", "redrive", "orders")
    assert second.returncode == 0, second.stderr
    assert wait_for(lambda: len(read_topic(settings, "orders.dlq",
                                           lambda m: m.key() == garbage_key,
                                           decode=False)) == 3,
                    what="the garbage back on the DLQ a third time")
    assert [e["type"] for e in wait_for_db_events(db, order_id, 1)] == ["CaseOpened"]
