"""Migration 0008 on a database that has records: the inbox's fingerprints move onto the
records, the `inbox` view shows both tables, and a record read again after the upgrade
is told apart from another one under its event_id."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import psycopg
import pytest
from yoyo import read_migrations

from configuration import Settings
from schemas.codec import shared_codec
from schemas.json_form import from_json
from service.unit_of_work import Cause, Inbound
from storage.migrate import MIGRATIONS, migrate
from storage.records import PostgresStore
from storage.transaction import transaction
from tests.integration.migrated import database_before

AT = dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.UTC)


def _placed(event_id: str, order_id: str) -> Inbound:
    record = from_json("orders", {
        "event_id": event_id, "type": "OrderPlaced", "occurred_at": "2026-03-01T10:00:00Z",
        "order_id": order_id, "buyer_id": "b", "seller_id": "s",
        "total": {"amount_minor": 5000, "currency": "EUR"},
        "payment_method": "aliberber_payments",
        "shipping_address": {"name": "n", "line1": "l", "city": "c", "postal_code": "1",
                             "country": "FR"},
        "estimated_delivery": "2026-03-10"})
    return Inbound(Cause("orders", 0, 0, event_id), record,
                   f"print-{order_id}".encode(), shared_codec().encode(record))


@pytest.fixture
def at_0007(settings: Settings) -> Iterator[str]:
    """A database migrated up to 0007, with two order records and a carrier report; the
    second order record's inbox row deleted (as the inbox retention did)."""
    with database_before(settings, "0008") as url:
        with psycopg.connect(url, autocommit=True) as db:
            for n, event_id in enumerate(["e-kept", "e-pruned"]):
                db.execute(
                    "INSERT INTO order_records (event_id, order_id, occurred_at, record_type, "
                    'topic, "partition", "offset", "timestamp", payload) '
                    "VALUES (%s, %s, %s, 'OrderPlaced', 'orders', 0, %s, 0, '')",
                    (event_id, f"o-{event_id}", AT, n))
            db.execute(
                "INSERT INTO parcel_reports (carrier, tracking_number, occurred_at, event_id, "
                'topic, "partition", "offset", "timestamp", payload) '
                "VALUES ('dhl', 'T1', %s, 'e-report', 'carrier-tracking', 0, 7, 0, '')", (AT,))
            db.execute(
                'INSERT INTO inbox (event_id, topic, "partition", "offset", fingerprint) '
                "VALUES ('e-kept', 'orders', 0, 0, 'print-o-e-kept'), "
                "('e-report', 'carrier-tracking', 0, 7, 'print-report')")
        yield url


def test_the_records_take_the_inbox_fingerprints_and_the_inbox_becomes_a_view(at_0007):
    assert migrate(at_0007) == len(read_migrations(str(MIGRATIONS)).filter(
        lambda m: m.id >= "0008"))
    with psycopg.connect(at_0007) as db:
        assert db.execute(
            "SELECT event_id, topic, \"offset\", fingerprint FROM inbox ORDER BY event_id"
        ).fetchall() == [("e-kept", "orders", 0, b"print-o-e-kept"),
                         ("e-pruned", "orders", 1, None),
                         ("e-report", "carrier-tracking", 7, b"print-report")]
        assert db.execute("SELECT relkind FROM pg_class WHERE relname = 'inbox'"
                          ).fetchone() == ("v",)


def test_after_the_upgrade_a_record_read_again_is_a_duplicate_and_a_reuse_a_conflict(
        at_0007):
    migrate(at_0007)
    again = _placed("e-kept", "o-e-kept")  # the same fingerprint as its inbox row had
    pruned = _placed("e-pruned", "o-e-pruned")  # no fingerprint kept: cannot be told
    reused = _placed("e-report", "o-other")  # the carrier report's id
    changed = _placed("e-kept", "o-changed")  # its id, other content
    fresh = _placed("e-new", "o-new")
    with psycopg.connect(at_0007) as conn, transaction(conn):
        claimed = PostgresStore(conn).store([again, pruned, reused, changed, fresh])
    assert claimed.fresh == [fresh]
    assert claimed.duplicates == 2
    assert [(item, why.split(" already")[0]) for item, why in claimed.conflicts] == [
        (reused, "event_id 'e-report'"), (changed, "event_id 'e-kept'")]
    with psycopg.connect(at_0007) as db:
        assert db.execute("SELECT count(*) FROM undecided_records").fetchone() == (1,)
        assert db.execute("SELECT fingerprint FROM order_records WHERE event_id = 'e-new'"
                          ).fetchone() == (b"print-o-new",)
