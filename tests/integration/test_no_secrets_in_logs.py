"""Personal data (addresses, message bodies, case descriptions) and secrets (the database
password, Kafka's SASL password) never appear in the service's logs: records carrying
unique markers go through the running service, good and bad ones, and a second instance
runs at DEBUG level with secrets in its settings; no log line holds any marker."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from confluent_kafka import ConsumerGroupState, Producer
from confluent_kafka.admin import AdminClient

from configuration import Settings
from schemas import record_key
from schemas.codec import shared_codec
from schemas.json_form import to_json
from tests.integration import clock
from tests.integration.conftest import read_topic, send, wait_for, wait_until_known
from tests.integration.scenario import Scenario

pytestmark = pytest.mark.integration

MARK = uuid.uuid4().hex
PERSONAL = {
    "name": f"Name{MARK}", "line1": f"Line1{MARK}", "line2": f"Line2{MARK}",
    "city": f"City{MARK}", "postal_code": f"PC{MARK[:8]}", "body": f"Body{MARK}",
    "description": f"Description{MARK}",
}
SECRETS = {"database password": f"dbpw{MARK}", "sasl password": f"saslpw{MARK}"}


def _address() -> dict[str, Any]:
    return {"name": PERSONAL["name"], "line1": PERSONAL["line1"], "line2": PERSONAL["line2"],
            "city": PERSONAL["city"], "postal_code": PERSONAL["postal_code"], "country": "FR"}


def _leaks(text: str) -> list[str]:
    return [name for name, marker in {**PERSONAL, **SECRETS}.items() if marker in text]


def _with_personal_data(s: Scenario) -> list[tuple[str, dict[str, Any]]]:
    topic, placed = s.placed()
    _, opened = s.open_case()
    _, delivered = s.delivered()
    _, message = s.message()
    return [(topic, {**placed, "shipping_address": _address()}),
            ("case-actions", {**opened, "description": PERSONAL["description"]}),
            ("carrier-tracking", {**delivered, "delivered_to": _address()}),
            ("messages", {**message, "body": PERSONAL["body"]})]


def test_personal_data_sent_through_the_service_never_reaches_its_log(
        settings, service, db, order_id):
    s = Scenario(order_id)
    good = _with_personal_data(s)
    send(settings, good[0])
    wait_until_known(db, order_id)
    send(settings, *good[1:])
    # and bad ones: their reasons go to the DLQ headers, never to the log
    bad = Scenario(f"{order_id}-bad")
    spoiled = [(topic, {**record, "body": PERSONAL["body"] + "\x00"})
               if topic == "messages" else (topic, {**record, "event_id": "e" * 200})
               for topic, record in _with_personal_data(bad)]
    send(settings, *spoiled)

    ids = [record["event_id"] for _, record in good]
    wait_for(lambda: db.execute("SELECT count(*) FROM inbox WHERE event_id = ANY(%s)",
                                (ids,)).fetchone()[0] == len(ids), what="the records")
    for topic, record in spoiled:
        key = record_key(topic, record).encode()
        wait_for(lambda t=topic, k=key: read_topic(settings, f"{t}.dlq",
                                                   lambda m, k=k: m.key() == k, decode=False),
                 what=f"the dead letter on {topic}.dlq")
    log = service.read_text()
    assert "batch_done" in log and "dead_letter" in log  # the log did see these records
    assert _leaks(log) == []


def _with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    user, host = parts.netloc.rsplit("@", 1)
    return urlunsplit(parts._replace(netloc=f"{user.split(':')[0]}:{password}@{host}"))


def _both_members_assigned(settings: Settings, group: str) -> bool:
    admin = AdminClient(settings.kafka())
    (future,) = admin.describe_consumer_groups([group], request_timeout=10).values()
    description = future.result()
    members = description.members
    return (description.state == ConsumerGroupState.STABLE and len(members) >= 2
            and all(m.assignment.topic_partitions for m in members))


def test_a_consumer_at_debug_level_with_secrets_logs_neither(
        settings, env, service, db, order_id, tmp_path: Path):
    """A second `cases run messages` joins the running service's group, so it takes some
    of the partitions; one message per partition makes sure it handles at least one."""
    debug_env = {**env, "DATABASE_URL": _with_password(env["DATABASE_URL"],
                                                       SECRETS["database password"]),
                 "CASES_KAFKA_SASL_USERNAME": "order-cases",
                 "CASES_KAFKA_SASL_PASSWORD": SECRETS["sasl password"]}
    log_path = tmp_path / "debug.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "cases_cli.main", "--log-level", "DEBUG",
                                 "run", "messages"], env=debug_env, stdout=log,
                                stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: _both_members_assigned(settings, "order-cases.messages"),
                 timeout=90, what="the DEBUG instance to get partitions")
        s = Scenario(order_id)
        send(settings, s.placed())
        wait_until_known(db, order_id)
        partitions = settings_partitions(settings, "messages")
        producer = Producer(settings.kafka(**{"enable.idempotence": True}))
        ids = []
        for partition in partitions:
            _, message = s.message()
            message = {**message, "body": PERSONAL["body"]}
            ids.append(message["event_id"])
            producer.produce("messages", key=order_id.encode(), partition=partition,
                             value=shared_codec().encode(clock.move_record(message)))
        assert producer.flush(30) == 0
        wait_for(lambda: db.execute("SELECT count(*) FROM inbox WHERE event_id = ANY(%s)",
                                    (ids,)).fetchone()[0] == len(ids), what="the messages")
        # its own batch_done line counts the messages it handled
        wait_for(lambda: re.search(r'"records": [1-9]', log_path.read_text()), timeout=30,
                 what="the DEBUG instance to handle a message")
    finally:
        proc.terminate()
        proc.wait(60)
    text = log_path.read_text()
    assert "consumer_started" in text and "consumer_stopped" in text
    assert _leaks(text) == []
    assert _leaks(service.read_text()) == []


def settings_partitions(settings: Settings, topic: str) -> list[int]:
    admin = AdminClient(settings.kafka())
    return sorted(admin.list_topics(topic, timeout=10).topics[topic].partitions)


def test_the_cli_at_debug_level_prints_no_personal_data_or_secret(
        env, service, db, tmp_path: Path):
    s = Scenario(f"cli-{uuid.uuid4().hex[:8]}")
    files: dict[str, Path] = {}
    for topic, record in _with_personal_data(s):
        files.setdefault(topic, tmp_path / f"{topic}.jsonl")
        with open(files[topic], "a") as out:
            out.write(json.dumps(to_json(clock.move_record(record))) + "\n")
    debug_env = {**env, "DATABASE_URL": _with_password(env["DATABASE_URL"],
                                                       SECRETS["database password"]),
                 "CASES_KAFKA_SASL_USERNAME": "order-cases",
                 "CASES_KAFKA_SASL_PASSWORD": SECRETS["sasl password"]}

    def cases(*args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([sys.executable, "-m", "cases_cli.main", "--log-level",
                                 "DEBUG", *args], env=debug_env, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert _leaks(result.stderr) == [] and _leaks(result.stdout) == [], args
        return result

    cases("publish", "orders", str(files["orders"]))
    wait_until_known(db, s.order_id)
    for topic in ("case-actions", "carrier-tracking", "messages"):
        cases("publish", topic, str(files[topic]))
    wait_for(lambda: db.execute("SELECT case_state FROM orders WHERE order_id = %s",
                                (s.order_id,)).fetchone()[0], what="the case")
    # `show` prints the order, its case and history: never an address or a text
    assert "CaseOpened" in cases("show", s.order_id).stdout
    assert "CaseOpened" in cases("show", "--json", s.order_id).stdout
    cases("sweep", "--now", clock.moved("2026-03-01T00:00:00Z"))  # before any deadline
