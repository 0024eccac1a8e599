"""Migration 0010 on a database with orders: each order's terms move out of its state
document into the `terms` column, and the sweeper reads the order back whole."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import psycopg
import pytest

from configuration import Settings
from storage import state_json
from storage.migrate import migrate
from storage.order_rows import order_from_row
from tests.integration.migrated import database_before
from tests.storage.test_state_json import sample_order


@pytest.fixture
def at_0009(settings: Settings) -> Iterator[str]:
    with database_before(settings, "0010") as url:
        with psycopg.connect(url, autocommit=True) as db:
            db.execute("INSERT INTO orders (order_id, state) VALUES (%s, %s), ('o-new', '{}')",
                       ("o-1", orjson.dumps(state_json.to_json(sample_order())).decode()))
        yield url


def test_the_terms_move_to_their_column(at_0009: str) -> None:
    migrate(at_0009)
    with psycopg.connect(at_0009) as db:
        rows = dict((r[0], r[1:]) for r in db.execute(
            "SELECT order_id, terms, state FROM orders").fetchall())
    terms, state = rows["o-1"]
    assert "terms" not in state and terms["seller_id"] == "s1"
    assert order_from_row("o-1", terms, state) == sample_order()
    assert rows["o-new"] == (None, {})
