"""`cases publish`, `cases events` and `cases show` as an operator runs them; what `cases
setup` creates and what `cases run` checks."""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource
from psycopg import sql

from consumers.topics import all_topics
from schemas import INBOUND_TOPICS
from tests.integration.conftest import cases, published_events, wait_for, wait_for_db_events
from tests.integration.scenario import Scenario

pytestmark = pytest.mark.integration


def _json_line(obj):
    return json.dumps(obj)


def test_publish_with_one_bad_line_names_it_and_sends_nothing(settings, env, order_id, tmp_path):
    good = {"event_id": f"{order_id}-1", "type": "OrderCancelled",
            "occurred_at": "2026-03-01T10:00:00Z", "order_id": order_id}
    bad = {**good, "event_id": f"{order_id}-2", "occurred_at": 12}
    path = tmp_path / "records.jsonl"
    path.write_text(_json_line(good) + "\n" + _json_line(bad) + "\n")
    result = cases(env, "publish", "orders", str(path))
    assert result.returncode != 0
    assert "line 2: field occurred_at" in result.stderr
    assert "Traceback" not in result.stderr
    assert published_in(settings, "orders", order_id) == 0


def published_in(settings, topic, order_id):
    from tests.integration.conftest import read_topic

    return len(read_topic(settings, topic, lambda m: m.key() == order_id.encode(),
                          decode=False))


def test_publish_then_events_and_show(settings, env, service, db, order_id):
    s = Scenario(order_id)
    lines = "\n".join(json.dumps(obj) for obj in [
        _to_json(s.placed()), _to_json(s.open_case()), _to_json(s.close_case())])
    orders_line, *actions = lines.splitlines()
    assert cases(env, "publish", "orders", "-", stdin=orders_line).returncode == 0
    result = cases(env, "publish", "case-actions", "-", stdin="\n".join(actions))
    assert result.returncode == 0, result.stderr
    wait_for_db_events(db, order_id, 2)
    wait_for(lambda: len(published_events(settings, order_id)) == 2, what="relay")

    printed = cases(env, "events", "--from-beginning")
    assert printed.returncode == 0, printed.stderr
    mine = [json.loads(line) for line in printed.stdout.splitlines()
            if json.loads(line).get("order_id") == order_id]
    assert [e["type"] for e in mine] == ["CaseOpened", "CaseClosed"]

    shown = cases(env, "show", order_id)
    assert shown.returncode == 0, shown.stderr
    assert "CLOSED (buyer_closed)" in shown.stdout
    assert "rule-5 buyer closes" in shown.stdout
    as_json = json.loads(cases(env, "show", order_id, "--json").stdout)
    assert as_json["case"]["state"] == "closed"
    assert [t["event"]["type"] for t in as_json["timeline"]] == ["CaseOpened", "CaseClosed"]
    assert as_json["timeline"][0]["cause"]["topic"] == "case-actions"


def test_bad_arguments_get_a_message_and_a_non_zero_exit(env):
    unknown = cases(env, "show", "no-such-order-anywhere")
    assert unknown.returncode == 1 and "no order 'no-such-order-anywhere'" in unknown.stderr
    bad_time = cases(env, "sweep", "--now", "yesterday")
    assert bad_time.returncode == 2 and "not an ISO-8601 timestamp" in bad_time.stderr
    bad_topic = cases(env, "publish", "nope", "-")
    assert bad_topic.returncode == 2 and "invalid choice" in bad_topic.stderr
    missing = cases(env, "publish", "orders", "/no/such/file.jsonl")
    assert missing.returncode == 1 and "cannot read /no/such/file.jsonl" in missing.stderr
    for result in (unknown, bad_time, bad_topic, missing):
        assert "Traceback" not in result.stderr


def _to_json(item):
    from schemas.json_form import to_json

    return to_json(item[1])


def test_run_on_a_database_never_set_up_says_so_and_changes_nothing(settings, env):
    """`cases run` checks, it does not migrate: the runtime role could not, and a
    deployment must set up (as the owner) before it runs."""
    name = f"not_set_up_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(settings.database_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = settings.database_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        result = cases({**env, "DATABASE_URL": url}, "run", "orders")
        assert result.returncode == 1, result.stderr
        (line,) = [line for line in result.stderr.splitlines() if line.startswith("cases:")]
        assert "database migrations not applied: 0001.initial-schema" in line
        assert "run `cases setup`" in line
        assert "topics missing" not in line  # the session's setup created them
        assert "Traceback" not in result.stderr
        with psycopg.connect(url, autocommit=True) as conn:
            assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
                                ).fetchone() == (0,)
    finally:
        with psycopg.connect(settings.database_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(
                sql.Identifier(name)))


def test_inbound_topics_are_stamped_by_the_broker_the_others_by_their_producer(settings):
    admin = AdminClient(settings.kafka())
    futures = admin.describe_configs(
        [ConfigResource(ConfigResource.Type.TOPIC, t) for t in all_topics()])
    stamped = {resource.name: future.result()["message.timestamp.type"].value
               for resource, future in futures.items()}
    assert stamped == {t: "LogAppendTime" if t in INBOUND_TOPICS else "CreateTime"
                       for t in all_topics()}


def _publish_bytes(env, topic: str, data: bytes, *args: str):
    """`cases publish TOPIC -` fed raw bytes (the `cases` helper takes text)."""
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "cases_cli.main", "publish", topic,
                           *(args or ("-",))], env=env, input=data, capture_output=True,
                          timeout=300)


def test_publish_refuses_hostile_lines_up_front_one_line_each_and_sends_nothing(
        settings, env, order_id, tmp_path):
    """A line nested 100,000 deep, invalid UTF-8 after good lines, a lone surrogate, an
    integer of 5000 digits: each used to print a traceback (after nothing, or after
    nothing was sent only by luck)."""
    good = {"event_id": f"{order_id}-1", "type": "OrderCancelled",
            "occurred_at": "2026-03-01T10:00:00Z", "order_id": order_id}
    lines = [json.dumps(good).encode(),
             b"[" * 100_000 + b"]" * 100_000,
             json.dumps({**good, "event_id": f"{order_id}-3"}).encode(),
             b'{"type": "OrderCancelled", "order_id": "caf\xe9"}',
             json.dumps({**good, "event_id": "\ud800"}).encode(),
             b'{"event_id": ' + b"7" * 5000 + b"}"]
    data = b"\n".join(lines) + b"\n"
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(data)
    for result in (_publish_bytes(env, "orders", data),
                   _publish_bytes(env, "orders", b"", str(path))):
        assert result.returncode == 1
        assert result.stderr.decode().splitlines() == [
            "line 2: not JSON this command reads: nested too deeply",
            "line 4: not UTF-8 text (byte 0xE9 at byte 44 of the line)",
            "line 5: field event_id: is not Unicode text (a lone surrogate, U+D800)",
            "line 6: not JSON this command reads: Exceeds the limit (4300 digits) for "
            "integer string conversion",
            "cases: 4 invalid line(s); nothing was sent"]
    assert published_in(settings, "orders", order_id) == 0


def test_publish_refuses_records_over_the_services_limit_before_sending_any(
        settings, env, order_id, tmp_path):
    """A 600 KB record was sent and then dead-lettered; a 1.1 MB one failed on the broker
    with MSG_SIZE_TOO_LARGE and no line number."""
    message = {"event_id": f"{order_id}-1", "type": "MessageSent",
               "occurred_at": "2026-03-11T09:00:00Z", "order_id": order_id,
               "sender_id": "b", "sender_role": "buyer", "kind": "message", "body": "Hi"}
    path = tmp_path / "large.jsonl"
    path.write_text("\n".join(json.dumps(m) for m in [
        message, {**message, "event_id": f"{order_id}-2", "body": "x" * 600_000},
        {**message, "event_id": f"{order_id}-3", "body": "y" * 1_100_000}]) + "\n")
    result = cases(env, "publish", "messages", str(path))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 3 and "Traceback" not in result.stderr
    for line, number in zip(lines, (2, 3), strict=False):
        assert line.startswith(f"line {number}: the record takes ")
        assert line.endswith("bytes, over the 524288-byte limit of the service "
                             "(CASES_MAX_RECORD_BYTES): it would be a dead letter")
    assert lines[2] == "cases: 2 invalid line(s); nothing was sent"
    assert published_in(settings, "messages", order_id) == 0
    # the limit is the service's setting
    smaller = cases({**env, "CASES_MAX_RECORD_BYTES": "40"}, "publish", "messages",
                    str(path))
    assert smaller.stderr.splitlines()[0].startswith("line 1: the record takes ")


def test_setup_stamps_an_inbound_topic_made_before_the_rule(settings, env):
    """A deployment upgraded in place keeps its topics: `cases setup` sets the broker's
    time on an inbound topic that stamps its producer's, and touches nothing else."""
    admin = AdminClient(settings.kafka())

    def stamping(topic: str) -> str:
        (future,) = admin.describe_configs(
            [ConfigResource(ConfigResource.Type.TOPIC, topic)]).values()
        return future.result()["message.timestamp.type"].value

    def set_stamping(topic: str, value: str) -> None:
        (future,) = admin.incremental_alter_configs([ConfigResource(
            ConfigResource.Type.TOPIC, topic, incremental_configs=[ConfigEntry(
                "message.timestamp.type", value,
                incremental_operation=AlterConfigOpType.SET)])]).values()
        future.result()

    set_stamping("payments", "CreateTime")
    try:
        result = cases(env, "setup")
        assert result.returncode == 0, result.stderr
        assert '"topics_stamped_by_broker": ["payments"]' in result.stderr
        assert stamping("payments") == "LogAppendTime"
        assert stamping("payments.dlq") == "CreateTime"
    finally:
        set_stamping("payments", "LogAppendTime")
