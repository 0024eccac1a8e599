"""`cases publish`, `cases events` and `cases show` as an operator runs them."""

from __future__ import annotations

import json

import pytest

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
