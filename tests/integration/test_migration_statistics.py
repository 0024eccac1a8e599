"""Migration 0011: ANALYZE gathers no planner statistics on what a row says (state
documents, payloads, headers, fingerprints), and still gathers them on the keys the
statements look rows up by."""

from __future__ import annotations

import psycopg

from configuration import Settings
from storage.migrate import migrate
from tests.integration.migrated import database_before

WITHOUT = {("orders", "state"), ("orders", "terms"), ("order_records", "payload"),
           ("order_records", "headers"), ("case_events", "record"),
           ("case_events", "payload")}
WITH = {("orders", "order_id"), ("order_records", "order_id"),
        ("case_events", "order_id")}


def _analysed_columns(url: str) -> set[tuple[str, str]]:
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("INSERT INTO orders (order_id, state, terms) SELECT 'o-' || n, "
                   "jsonb_build_object('n', n), jsonb_build_object('seller_id', 's1') "
                   "FROM generate_series(1, 200) AS n")
        db.execute(
            "INSERT INTO order_records (event_id, order_id, occurred_at, record_type, "
            'topic, "partition", "offset", "timestamp", payload, headers, fingerprint) '
            "SELECT 'e-' || n, 'o-' || n, now(), 'OrderPlaced', 'orders', 0, n, 0, "
            "'\\x00'::bytea, '[]'::jsonb, '\\x01'::bytea FROM generate_series(1, 200) AS n")
        db.execute(
            "INSERT INTO case_events (event_id, decision_key, order_id, type, occurred_at, "
            "record, payload, rule, cause_topic, cause_partition, cause_offset, "
            "cause_event_id) SELECT 'c-' || n, 'k-' || n, 'o-' || n, 'CaseOpened', now(), "
            "'{}'::jsonb, '\\x00'::bytea, 'r', 'orders', 0, n, 'e-' || n "
            "FROM generate_series(1, 200) AS n")
        db.execute("ANALYZE orders, order_records, case_events")
        return {(t, c) for t, c in db.execute(
            "SELECT tablename, attname FROM pg_stats WHERE schemaname = 'public'")}


def test_before_the_migration_every_column_is_analysed(settings: Settings) -> None:
    with database_before(settings, "0011") as url:
        analysed = _analysed_columns(url)
    assert analysed >= WITHOUT and analysed >= WITH


def test_after_it_what_a_row_says_is_not_and_the_keys_still_are(settings: Settings) -> None:
    with database_before(settings, "0011") as url:
        migrate(url)
        analysed = _analysed_columns(url)
    assert not WITHOUT & analysed
    assert analysed >= WITH
