"""The service, run as `cases run` in a child process against the real broker and
database, and helpers to publish records and wait for what they cause."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from psycopg import sql

from bootstrap.kafka import consumer_group
from cases_cli.commands import setup
from configuration import Settings, settings_from_env
from schemas import CASE_EVENTS_TOPIC, record_key
from schemas.codec import shared_codec
from schemas.json_form import to_json

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def settings(service_env: dict[str, str]) -> Settings:
    settings = settings_from_env(service_env)
    setup(settings=settings)
    return settings


@pytest.fixture(scope="session")
def env(service_env: dict[str, str], settings: Settings) -> dict[str, str]:
    return {**os.environ, **service_env, "CASES_SWEEP_INTERVAL_SECONDS": "3600"}


@pytest.fixture(scope="session")
def service(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """`cases run`: every consumer, the relay and the sweeper. Yields its log file."""
    log_path = tmp_path_factory.mktemp("service") / "cases-run.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "cases_cli.main", "run"], env=env,
                                stdout=log, stderr=subprocess.STDOUT)
    try:
        # The sweeper sweeps once as it starts, then hourly (env). Tests send records
        # whose deadlines are long past: a first sweep that came after them would fire
        # those deadlines, which tests comparing against a rebuild (records only) must
        # not see.
        wait_for(lambda: proc.poll() is not None or '"sweep_done"' in log_path.read_text(),
                 timeout=120, what="the sweeper's first pass")
        assert proc.poll() is None, log_path.read_text()[-3000:]
        yield log_path
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def db(settings: Settings) -> Iterator[psycopg.Connection]:
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def empty_database(settings: Settings, env: dict[str, str]) -> Iterator[str]:
    """A new, migrated database on the same server, all its tables empty (the target
    of a rebuild; a fresh deployment)."""
    name = f"rebuild_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(settings.database_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = settings.database_url.rsplit("/", 1)[0] + f"/{name}"
    setup = cases({**env, "DATABASE_URL": url}, "setup")
    assert setup.returncode == 0, setup.stderr
    yield url
    with psycopg.connect(settings.database_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def order_id() -> str:
    return f"order-{uuid.uuid4().hex[:12]}"


def produce(settings: Settings, topic: str, records: list[dict[str, Any]]) -> None:
    producer = Producer(settings.kafka(**{"enable.idempotence": True}))
    codec = shared_codec()
    for record in records:
        producer.produce(topic, key=record_key(topic, record).encode(),
                         value=codec.encode(record))
    assert producer.flush(30) == 0


def produce_raw(settings: Settings, topic: str, key: bytes | None, value: bytes) -> None:
    producer = Producer(settings.kafka())
    producer.produce(topic, key=key, value=value)
    assert producer.flush(30) == 0


def wait_for(check: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


def db_events(db: psycopg.Connection, order_id: str) -> list[dict[str, Any]]:
    rows = db.execute("SELECT record FROM case_events WHERE order_id = %s ORDER BY seq",
                      (order_id,)).fetchall()
    return [r[0] for r in rows]


def wait_for_db_events(db: psycopg.Connection, order_id: str, count: int,
                       timeout: float = 60.0) -> list[dict[str, Any]]:
    return wait_for(lambda: (e := db_events(db, order_id)) and len(e) >= count and e,
                    timeout, f"{count} case events of {order_id}")


def read_topic(settings: Settings, topic: str, match: Callable[[Any], bool],
               decode: bool = True) -> list[Any]:
    """Every message of a topic (read to its end) that `match` accepts."""
    consumer = Consumer(settings.kafka(**{
        "group.id": f"test-{uuid.uuid4()}", "enable.auto.commit": False,
        "enable.partition.eof": True}))
    metadata = consumer.list_topics(topic, timeout=10).topics[topic]
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in metadata.partitions])
    pending, found = set(metadata.partitions), []
    codec = shared_codec()
    while pending:
        msg = consumer.poll(1.0)
        if msg is None:
            continue
        if msg.error():
            if msg.error().code() == KafkaError._PARTITION_EOF:
                pending.discard(msg.partition())
            continue
        item = to_json(codec.decode(msg.value())) if decode else msg
        if match(item):
            found.append(item)
    consumer.close()
    return found


def published_events(settings: Settings, order_id: str) -> list[dict[str, Any]]:
    return read_topic(settings, CASE_EVENTS_TOPIC, lambda r: r.get("order_id") == order_id)


def send(settings: Settings, *items: tuple[str, dict[str, Any]]) -> None:
    """Produce (topic, record) pairs, each topic's records in the order given."""
    by_topic: dict[str, list[dict[str, Any]]] = {}
    for topic, record in items:
        by_topic.setdefault(topic, []).append(record)
    for topic, records in by_topic.items():
        produce(settings, topic, records)


def committed(settings: Settings, topic: str) -> dict[int, int]:
    """The offsets the topic's consumer group (the service's) has committed, per partition,
    read without joining the group (none yet: 0, like the end of an empty partition)."""
    consumer = Consumer(settings.kafka(**{"group.id": consumer_group(topic)}))
    try:
        parts = consumer.list_topics(topic, timeout=20).topics[topic].partitions
        found = consumer.committed([TopicPartition(topic, p) for p in parts], timeout=20)
    finally:
        consumer.close()
    return {tp.partition: max(tp.offset, 0) for tp in found}


def end_offsets(settings: Settings, topic: str) -> dict[int, int]:
    consumer = Consumer(settings.kafka(**{"group.id": f"watermarks-{topic}"}))
    try:
        parts = consumer.list_topics(topic, timeout=20).topics[topic].partitions
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=20)[1]
                for p in parts}
    finally:
        consumer.close()


def cases(env: dict[str, str], *args: str,
          stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run a `cases` command as an operator would, in a child process."""
    return subprocess.run([sys.executable, "-m", "cases_cli.main", *args], env=env,
                          input=stdin, capture_output=True, text=True, timeout=300)


def wait_until_known(db: psycopg.Connection, order_id: str) -> None:
    wait_for(lambda: db.execute("SELECT state->'terms' FROM orders WHERE order_id = %s",
                                (order_id,)).fetchone() not in (None, (None,)),
             what=f"order {order_id} to be known")
