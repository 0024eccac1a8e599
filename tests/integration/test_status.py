"""`cases status` against the real broker and database while the service runs: per
inbound topic its consumer group and lag, the watermark and when the sweeper last
measured it, the outbox, dead letters per DLQ, and who leads the relay and the sweeper;
in JSON and as text an operator reads."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bootstrap.kafka import consumer_group
from configuration import Settings
from schemas import INBOUND_TOPICS, dlq_topic
from tests.integration.conftest import cases, end_offsets, produce_raw, send, wait_for
from tests.integration.scenario import Scenario

pytestmark = pytest.mark.integration


def status_json(env: dict[str, str]) -> dict[str, Any]:
    done = cases(env, "status", "--json")
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def _ago(text: str) -> float:
    return (dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(text)).total_seconds()


def test_status_after_records_flow(settings: Settings, env: dict[str, str], service: Path,
                                   db: psycopg.Connection, order_id: str) -> None:
    before = status_json(env)["kafka"]["dead_letters"]
    s = Scenario(order_id)
    send(settings, s.placed(), s.open_case())
    produce_raw(settings, "orders", order_id.encode(), b"not an Avro record")
    wait_for(lambda: db.execute("SELECT count(*) FROM case_events e WHERE order_id = %s "
                                "AND e.seq NOT IN (SELECT seq FROM unpublished_case_events)",
                                (order_id,)).fetchone()[0],
             60, "the CaseOpened to be published")

    def drained() -> dict[str, Any] | None:
        report = status_json(env)
        topics = report["kafka"]["topics"]
        return report if (topics["orders"]["lag"] == 0 and topics["case-actions"]["lag"] == 0
                          and report["kafka"]["dead_letters"]["orders.dlq"]
                          > before["orders.dlq"]) else None
    report = wait_for(drained, 90, "status to show the records read and the dead letter")

    topics = report["kafka"]["topics"]
    assert set(topics) == set(INBOUND_TOPICS)
    for topic, entry in topics.items():
        assert entry["group"] == consumer_group(topic)
        assert set(entry["partitions"]) == {str(p) for p in end_offsets(settings, topic)}
        assert all(lag >= 0 for lag in entry["partitions"].values())
        assert entry["lag"] == sum(entry["partitions"].values())
    assert set(report["kafka"]["dead_letters"]) == {dlq_topic(t) for t in INBOUND_TOPICS}

    mark = report["watermark"]
    assert abs(_ago(mark["low"]) - mark["delay_seconds"]) < 60
    assert _ago(mark["computed_at"]) < 60  # the sweeper measures at least every second
    assert isinstance(mark["held_by"], list)
    assert any(key.startswith("orders[") for key in report["stored"])
    assert report["outbox"]["events"] >= 0 and report["outbox"]["dead_letters"] >= 0
    assert report["relay_leader"]["application_name"] == "order-cases.relay"
    assert report["sweeper_leader"]["application_name"] == "order-cases.sweeper"
    assert isinstance(report["relay_leader"]["pid"], int)


def test_status_as_text_reads_at_a_glance(env: dict[str, str], service: Path) -> None:
    done = wait_for(lambda: (d := cases(env, "status")).returncode == 0
                    and "behind the wall clock" in d.stdout and d, 60,
                    "status to show a watermark")
    lines = done.stdout.splitlines()
    assert lines[0].startswith("watermark: ") and "behind the wall clock" in lines[0]
    assert lines[1].split() == ["consumer", "lag", "undecided"]
    assert [line.split()[0] for line in lines[2:2 + len(INBOUND_TOPICS)]] == list(
        INBOUND_TOPICS)
    assert all(line.split()[1].isdigit() for line in lines[2:2 + len(INBOUND_TOPICS)])
    rest = lines[2 + len(INBOUND_TOPICS):]
    assert any(line.startswith("outbox: ") for line in rest)
    dead = next(line for line in rest if line.startswith("dead letters: "))
    assert all(f"{dlq_topic(t)} " in dead for t in INBOUND_TOPICS)
    assert any(line.startswith("relay: led by pid ") for line in rest)
    assert any(line.startswith("sweeper: led by pid ") for line in rest)
    assert "Traceback" not in done.stdout + done.stderr
