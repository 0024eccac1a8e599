"""Migration 0009 on a database whose relay marked events published one by one: the
published prefix becomes the cursor's rows, one per relay batch, and what follows the
first unpublished event is the outbox again."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import psycopg
import pytest

from configuration import Settings
from storage.migrate import migrate
from tests.integration.migrated import database_before

FIRST = dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.UTC)
SECOND = FIRST + dt.timedelta(seconds=1)
THIRD = FIRST + dt.timedelta(seconds=2)
#: seq -> when the relay marked it (None: not yet); seq 5 was published after 4 was not
MARKED = {1: FIRST, 2: FIRST, 3: SECOND, 4: None, 5: THIRD}


@pytest.fixture
def at_0008(settings: Settings) -> Iterator[str]:
    with database_before(settings, "0009") as url:
        with psycopg.connect(url, autocommit=True) as db:
            for seq, published_at in MARKED.items():
                db.execute(
                    "INSERT INTO case_events (seq, event_id, decision_key, order_id, type, "
                    "occurred_at, record, payload, rule, cause_topic, cause_partition, "
                    "cause_offset, cause_event_id, published_at) VALUES (%s, %s, %s, 'o1', "
                    "'CaseOpened', %s, '{}', '', 'rule', 'case-actions', 0, %s, 'c', %s)",
                    (seq, f"e{seq}", f"e{seq}", FIRST, seq, published_at))
        yield url


def test_the_published_prefix_becomes_the_cursor(at_0008: str) -> None:
    migrate(at_0008)
    with psycopg.connect(at_0008) as db:
        assert db.execute("SELECT through_seq, published_at FROM case_events_published "
                          "ORDER BY through_seq").fetchall() == [(2, FIRST), (3, SECOND)]
        # 5 was marked, but after 4, which was not: it is sent again, with its event_id
        assert db.execute("SELECT seq FROM unpublished_case_events ORDER BY seq"
                          ).fetchall() == [(4,), (5,)]
        assert db.execute("SELECT count(*) FROM information_schema.columns WHERE "
                          "table_name = 'case_events' AND column_name = 'published_at'"
                          ).fetchone() == (0,)
