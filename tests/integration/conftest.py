"""The service, run as `cases run` in a child process against the real broker and
database, and helpers to publish records and wait for what they cause. Records keep the
dates tests write them with and are moved in time on their way (tests/integration/
clock.py); events read back are moved back."""

from __future__ import annotations

import json
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
from tests.integration import clock
from tests.integration.probe import free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def settings(service_env: dict[str, str]) -> Settings:
    settings = settings_from_env(service_env)
    setup(settings=settings)
    return settings


@pytest.fixture(scope="session")
def env(service_env: dict[str, str], settings: Settings) -> dict[str, str]:
    return {**os.environ, **service_env, **SERVICE_ENV}


#: the service under test: the watermark a week behind the wall clock (clock.py), an
#: unknown order's actions held for 3 days (so no hold a test starts runs out before a
#: test sweeps past it), every line of its log in JSON
SERVICE_ENV = {"CASES_ALLOWED_LATENESS": "7d", "CASES_POLICY_UNKNOWN_ORDER_HOLD": "3d",
               "CASES_LOG_JSON": "1"}


@pytest.fixture(scope="session")
def service_url() -> str:
    """Where the `service` fixture's `cases run` serves /healthz, /readyz and /metrics."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture(scope="session")
def service(env: dict[str, str], service_url: str,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """`cases run`: every consumer, the relay and the sweeper, serving HTTP at
    `service_url`. Yields its log file."""
    log_path = tmp_path_factory.mktemp("service") / "cases-run.log"
    port = service_url.rsplit(":", 1)[1]
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "cases_cli.main", "run"],
                                env={**env, "CASES_HTTP_PORT": port},
                                stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: proc.poll() is not None or '"sweeper_leading"' in log_path.read_text(),
                 timeout=120, what="the sweeper to lead")
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


def produce(settings: Settings, topic: str, records: list[dict[str, Any]],
            move: bool = True) -> None:
    """Produce records (as the codec takes them), moved in time unless told not to."""
    producer = Producer(settings.kafka(**{"enable.idempotence": True}))
    codec = shared_codec()
    for record in records:
        producer.produce(topic, key=record_key(topic, record).encode(),
                         value=codec.encode(clock.move_record(record) if move else record))
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
    return [clock.restored(r[0]) for r in rows]


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
        item = clock.restored(to_json(codec.decode(msg.value()))) if decode else msg
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
    """Run a `cases` command as an operator would, in a child process (`--now` and the
    JSON lines `cases publish` reads from stdin moved in time, as records are)."""
    args = tuple(clock.moved(a) if i and args[i - 1] == "--now" else a
                 for i, a in enumerate(args))
    if stdin is not None and args[:1] == ("publish",):
        stdin = "\n".join(_moved_line(line) for line in stdin.split("\n"))
    if args[:1] == ("publish",) and len(args) == 3 and args[2] != "-" and Path(args[2]).is_file():
        lines = Path(args[2]).read_text(encoding="utf-8").split("\n")
        moved = Path(args[2]).with_name(f"moved-{Path(args[2]).name}")
        moved.write_text("\n".join(_moved_line(line) for line in lines), encoding="utf-8")
        args = (*args[:2], str(moved))
    return subprocess.run([sys.executable, "-m", "cases_cli.main", *args], env=env,
                          input=stdin, capture_output=True, text=True, timeout=300)


def _moved_line(line: str) -> str:
    try:
        record = json.loads(line)
    except ValueError:
        return line  # a line a test means to be bad: as it is
    return json.dumps(clock.move_json(record)) if isinstance(record, dict) else line


def wait_until_known(db: psycopg.Connection, order_id: str) -> None:
    wait_for(lambda: db.execute("SELECT terms FROM orders WHERE order_id = %s",
                                (order_id,)).fetchone() not in (None, (None,)),
             what=f"order {order_id} to be known")


def wait_until_stored(db: psycopg.Connection, event_id: str) -> None:
    """Until a record is stored (read by its consumer), decided or not."""
    wait_for(lambda: db.execute(
        "SELECT 1 FROM order_records WHERE event_id = %s UNION ALL "
        "SELECT 1 FROM parcel_reports WHERE event_id = %s", (event_id, event_id)).fetchone(),
        what=f"record {event_id} to be stored")
