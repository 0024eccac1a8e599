"""The inbox's retention on a real broker and database: a row goes only once no topic can
deliver its record again (storage/inbox.py, `cases prune-inbox`, the sweeper)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from confluent_kafka import KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from configuration import Settings
from schemas import dlq_topic
from sweeper import retention
from tests.integration.conftest import cases

pytestmark = pytest.mark.integration

DAY = dt.timedelta(days=1)


def inbox_retention_pass(settings: Settings, now: dt.datetime, topics: list[str]) -> int:
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        return retention.inbox_retention_pass(settings, conn, now, topics)


@pytest.fixture
def topic(settings: Settings) -> Iterator[str]:
    """A topic of two partitions with ten records each, and its (empty) dead-letter topic."""
    name = f"retention-{uuid.uuid4().hex[:10]}"
    admin = AdminClient(settings.kafka())
    for future in admin.create_topics([NewTopic(t, num_partitions=2, replication_factor=1)
                                       for t in (name, dlq_topic(name))]).values():
        future.result(30)
    producer = Producer(settings.kafka())
    for partition in (0, 1):
        for n in range(10):
            producer.produce(name, key=b"k", value=f"{n}".encode(), partition=partition)
    assert producer.flush(30) == 0
    yield name
    for future in admin.delete_topics([name, dlq_topic(name)]).values():
        future.result(30)


def delete_records_below(settings: Settings, topic: str, partition: int, offset: int) -> None:
    """What retention does to a partition's oldest segments."""
    admin = AdminClient(settings.kafka())
    for future in admin.delete_records([TopicPartition(topic, partition, offset)]).values():
        future.result(30)


def add_inbox_rows(db: psycopg.Connection, topic: str, processed_at: dt.datetime) -> None:
    """A row for each record of both partitions, as the consumer would have claimed them."""
    for partition in (0, 1):
        db.execute(
            'INSERT INTO inbox (event_id, topic, "partition", "offset", fingerprint, '
            "processed_at) SELECT %s || '-' || n, %s, %s, n, '', %s "
            "FROM generate_series(0, 9) AS n",
            (f"{topic}-{partition}", topic, partition, processed_at))


def kept(db: psycopg.Connection, topic: str) -> dict[int, list[int]]:
    rows = db.execute('SELECT "partition", "offset" FROM inbox WHERE topic = %s '
                      'ORDER BY 1, 2', (topic,)).fetchall()
    out: dict[int, list[int]] = {0: [], 1: []}
    for partition, offset in rows:
        out[partition].append(offset)
    return out


def test_rows_go_once_their_records_are_gone_from_the_topic(settings, db, topic):
    now = dt.datetime.now(dt.UTC)
    add_inbox_rows(db, topic, now - 2 * DAY)
    assert inbox_retention_pass(settings, now, [topic]) == 0  # every record still kept

    delete_records_below(settings, topic, 0, 6)
    assert inbox_retention_pass(settings, now, [topic]) == 6
    assert kept(db, topic) == {0: list(range(6, 10)), 1: list(range(10))}


def test_rows_within_the_clock_slack_stay_though_their_records_are_gone(settings, db, topic):
    """The service's hosts and the database may disagree on the time by that much."""
    now = dt.datetime.now(dt.UTC)
    add_inbox_rows(db, topic, now - dt.timedelta(minutes=30))
    delete_records_below(settings, topic, 0, 10)
    assert inbox_retention_pass(settings, now, [topic]) == 0
    assert kept(db, topic) == {0: list(range(10)), 1: list(range(10))}


def test_rows_newer_than_the_oldest_dead_letter_stay(settings, db, topic):
    """A redrive could bring back a dead letter's record: only what was applied before the
    oldest dead letter still kept was surely not applied from it."""
    now = dt.datetime.now(dt.UTC)
    producer = Producer(settings.kafka())
    producer.produce(dlq_topic(topic), key=b"k", value=b"dead",
                     timestamp=int((now - 3 * DAY).timestamp() * 1000))
    assert producer.flush(30) == 0
    add_inbox_rows(db, topic, now - 2 * DAY)
    delete_records_below(settings, topic, 0, 10)
    assert inbox_retention_pass(settings, now, [topic]) == 0

    db.execute("UPDATE inbox SET processed_at = %s WHERE topic = %s AND \"offset\" < 3",
               (now - 4 * DAY, topic))
    assert inbox_retention_pass(settings, now, [topic]) == 3
    assert kept(db, topic) == {0: list(range(3, 10)), 1: list(range(10))}


def test_nothing_goes_when_kafka_cannot_say(settings, db, topic):
    now = dt.datetime.now(dt.UTC)
    add_inbox_rows(db, topic, now - 2 * DAY)
    delete_records_below(settings, topic, 0, 10)
    with pytest.raises(KafkaException):
        inbox_retention_pass(settings, now, [topic, f"missing-{uuid.uuid4().hex[:8]}"])
    assert kept(db, topic) == {0: list(range(10)), 1: list(range(10))}


def test_the_operator_command_prunes_and_says_how_much(env):
    result = cases(env, "prune-inbox")
    assert result.returncode == 0, result.stderr
    assert "inbox row(s) of records no topic can deliver again" in result.stderr
