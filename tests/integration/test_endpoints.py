"""/healthz, /readyz and /metrics of the running service (`cases run`: every component,
CASES_HTTP_PORT), read over HTTP while records flow through the real broker and
database: the figures move with the records. The service is shared with other tests,
so each test compares the figures before and after what it sends."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import psycopg
import pytest

from bootstrap.components import COMPONENTS
from configuration import Settings
from schemas import INBOUND_TOPICS
from tests.conftest import REPO
from tests.integration.conftest import (
    end_offsets,
    produce_raw,
    send,
    wait_for,
    wait_for_db_events,
    wait_until_known,
)
from tests.integration.probe import Scrape, get, scrape
from tests.integration.scenario import Scenario

pytestmark = pytest.mark.integration

METRICS_TXT = REPO / "deploy" / "observability" / "metrics.txt"


def risen(before: Scrape, after: Scrape, name: str, by: float = 1.0, **labels: str) -> bool:
    return after.count(name, **labels) >= before.count(name, **labels) + by


def test_healthz_and_readyz_answer_for_every_component(service: Path, service_url: str
                                                       ) -> None:
    ready = wait_for(lambda: (r := get(f"{service_url}/readyz"))[0] == 200 and r, 60,
                     "/readyz to answer 200")
    body = json.loads(ready[1])
    assert body["status"] == "ok"
    assert set(body["components"]) == set(COMPONENTS)
    assert all(c["ready"] and c["silent_for_seconds"] < 60 for c in body["components"].values())
    status, text = get(f"{service_url}/healthz")
    assert status == 200 and json.loads(text)["status"] == "ok"
    assert get(f"{service_url}/no-such-path")[0] == 404


def test_records_read_move_the_consumers_and_decisions_figures(
        settings: Settings, service: Path, service_url: str, db: psycopg.Connection,
        order_id: str) -> None:
    before = scrape(service_url)
    s = Scenario(order_id)
    send(settings, s.placed(), s.open_case())
    wait_for_db_events(db, order_id, 1)

    def moved() -> bool:
        after = scrape(service_url)
        return (all(risen(before, after, "order_cases_records_stored_total", topic=t)
                    for t in ("orders", "case-actions"))
                and all(risen(before, after, f"order_cases_{name}_count", topic="orders")
                        for name in ("batch_duration_seconds", "batch_size_records"))
                and after.count("order_cases_batch_duration_seconds_sum", topic="orders")
                > before.count("order_cases_batch_duration_seconds_sum", topic="orders")
                and risen(before, after, "order_cases_decisions_total", by=2, kind="record")
                and risen(before, after, "order_cases_decide_pass_duration_seconds_count"))
    wait_for(moved, 60, "the consumers' and the sweeper's figures to rise")


def test_case_events_published_move_the_relays_figures(
        settings: Settings, service: Path, service_url: str, db: psycopg.Connection,
        order_id: str) -> None:
    before = scrape(service_url)
    s = Scenario(order_id)
    send(settings, s.placed(), s.open_case())
    wait_for(lambda: db.execute("SELECT count(*) FROM case_events e WHERE order_id = %s "
                                "AND e.seq NOT IN (SELECT seq FROM unpublished_case_events)",
                                (order_id,)).fetchone()[0],
             60, "the relay to publish the CaseOpened")

    def moved() -> bool:
        after = scrape(service_url)
        return (risen(before, after, "order_cases_case_events_published_total",
                      type="CaseOpened")
                and risen(before, after, "order_cases_relay_publish_latency_seconds_count")
                and after.value("order_cases_relay_leader") == 1)
    wait_for(moved, 60, "the relay's figures to rise")
    # the backlog is measured every few seconds: back to nothing once all is published
    wait_for(lambda: scrape(service_url).value("order_cases_outbox_backlog_events") == 0, 60,
             "the outbox backlog to read 0")
    assert scrape(service_url).value("order_cases_outbox_oldest_age_seconds") is not None


def test_the_watermark_is_exported_and_advances(service: Path, service_url: str,
                                                db: psycopg.Connection) -> None:
    """The gauges say what the database keeps (the sweeper measures at least every
    second), the delay is the wall clock less the watermark, and both move on."""
    def agrees() -> Scrape | None:
        found = scrape(service_url)
        mark = found.value("order_cases_watermark_timestamp_seconds")
        delay = found.value("order_cases_watermark_delay_seconds")
        kept = db.execute("SELECT extract(epoch FROM low) FROM watermark").fetchone()
        if mark is None or delay is None or kept is None:
            return None
        return found if (abs(float(kept[0]) - mark) < 30
                         and abs(time.time() - mark - delay) < 30) else None
    first = wait_for(agrees, 60, "the watermark gauges to agree with the database")

    def advanced() -> bool:
        later = scrape(service_url)
        return all(later.count(name) > first.count(name) for name in (
            "order_cases_watermark_timestamp_seconds",
            "order_cases_sweeper_last_pass_timestamp_seconds"))
    wait_for(advanced, 30, "the watermark and the sweeper's last pass to move on")


def test_consumer_lag_is_exported_for_every_partition_of_every_inbound_topic(
        settings: Settings, service: Path, service_url: str) -> None:
    partitions = {t: {str(p) for p in end_offsets(settings, t)} for t in INBOUND_TOPICS}

    def every_partition_caught_up() -> bool:
        found = scrape(service_url)
        for topic, expected in partitions.items():
            lag = {s.labels["partition"]: s.value for s in
                   found.matching("order_cases_consumer_lag_records", topic=topic)}
            if set(lag) != expected or any(lag.values()):
                return False
        return True
    wait_for(every_partition_caught_up, 60,
             "a lag of 0 for every partition of every inbound topic")


def test_a_malformed_record_counts_as_a_dead_letter_by_topic_and_reason(
        settings: Settings, service: Path, service_url: str) -> None:
    labels = {"topic": "orders", "reason": "DecodeError"}
    before = scrape(service_url)
    produce_raw(settings, "orders", f"order-{uuid.uuid4().hex[:12]}".encode(),
                b"not an Avro record")
    wait_for(lambda: risen(before, scrape(service_url), "order_cases_dead_letters_total",
                           **labels), 60, "the dead letter to be counted")


def test_every_metric_the_deployment_lists_is_exported(
        settings: Settings, service: Path, service_url: str, db: psycopg.Connection,
        order_id: str) -> None:
    """deploy/observability/metrics.txt against /metrics, as prometheus_client names
    samples: a counter's with `_total`, a histogram's `_bucket`, `_count` and `_sum`. A
    series that only exists once something happened (a dead letter's reason, a
    partition's frontier) is made to exist first."""
    produce_raw(settings, "orders", order_id.encode(), b"not an Avro record")
    s = Scenario(order_id)
    send(settings, s.placed())
    wait_until_known(db, order_id)
    wait_for(lambda: scrape(service_url).value("order_cases_dead_letters_total"), 60,
             "a dead letter to be counted")
    wait_for(lambda: scrape(service_url).value(
        "order_cases_partition_frontier_timestamp_seconds"), 60, "a partition's frontier")
    wait_for(lambda: scrape(service_url).value(
        "order_cases_partition_read_through_timestamp_seconds"), 60,
        "a partition read up to an end the sweeper saw")

    listed = METRICS_TXT.read_text().split()
    found = scrape(service_url)
    missing = []
    for name in listed:
        family = found.families.get(name.removesuffix("_total"))
        if family is None:
            missing.append(name)
            continue
        if name.endswith("_total"):
            assert family.type == "counter", name
            expected = [name]
        elif family.type == "histogram":
            expected = [f"{name}_bucket", f"{name}_count", f"{name}_sum"]
        else:
            assert family.type == "gauge", (name, family.type)
            expected = [name]
        missing += [n for n in expected if not found.matching(n)]
    assert not missing, f"listed in metrics.txt, not exported: {missing}"
    # and the list is complete: nothing the service exports is left out of it
    exported = {f.name + ("_total" if f.type == "counter" else "")
                for f in found.families.values() if f.name.startswith("order_cases_")}
    assert exported <= set(listed), f"exported, not listed: {sorted(exported - set(listed))}"
