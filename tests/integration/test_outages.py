"""Outages and rebalances (docs/contract.md, Delivery: each record takes effect once; a
crash anywhere loses nothing). Each test has its own Kafka broker and PostgreSQL in a
temporary state directory, so it can stop and restart them without disturbing other
tests, and runs the service as `cases run COMPONENT` child processes, one process per
component instance."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient

from bootstrap.kafka import consumer_group
from cases_cli.commands import setup
from configuration import Settings, settings_from_env
from schemas import CASE_EVENTS_TOPIC, record_key
from schemas.codec import shared_codec
from tests.conftest import REPO, SERVICES, _parse_env_lines, services_state_dir
from tests.integration import clock
from tests.integration.conftest import (
    SERVICE_ENV,
    cases,
    committed,
    db_events,
    end_offsets,
    read_topic,
    send,
    wait_for,
)
from tests.integration.scenario import Scenario

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCRIPTS = REPO / "deploy" / "local"
PARTITIONS = 4
#: the group timeouts the rebalance tests shorten (through CASES_KAFKA_*), so that a
#: stalled or killed instance's partitions move in seconds rather than minutes
FAST_GROUP = {"CASES_KAFKA_SESSION_TIMEOUT_MS": "6000",
              "CASES_KAFKA_HEARTBEAT_INTERVAL_MS": "1000"}


# ---- a private stack and the service's processes --------------------------------------

class Component:
    """One `cases run COMPONENT` child process and its log (JSON lines, plus librdkafka's
    own lines, which are not JSON)."""

    def __init__(self, name: str, component: str, env: dict[str, str], log: Path) -> None:
        self.name, self.log = name, log
        with open(log, "w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "cases_cli.main", "run", component], env=env,
                stdout=out, stderr=subprocess.STDOUT, cwd=REPO)

    def lines(self) -> list[dict[str, Any]]:
        entries = []
        for line in self.log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    entries.append(json.loads(line))
                except json.JSONDecodeError:
                    continue  # a line still being written
        return entries

    def logged(self, event: str, since: int = 0) -> list[dict[str, Any]]:
        """The log entries named `event`, from the `since`-th entry on."""
        return [e for e in self.lines()[since:] if e.get("event") == event]

    def mark(self) -> int:
        return len(self.lines())

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)


class Stack:
    """A private broker and database in `state`, and the components run against them."""

    def __init__(self, state: Path) -> None:
        self.state = state
        up = subprocess.run(["bash", str(SERVICES), "up", str(state)], capture_output=True,
                            text=True, timeout=600)
        if up.returncode != 0:
            self.down()
            pytest.fail(f"local services did not start:\n{up.stderr[-3000:]}")
        self.service_env = _parse_env_lines(up.stdout)
        self.settings: Settings = settings_from_env(self.service_env)
        setup(partitions=PARTITIONS, settings=self.settings)
        self.components: list[Component] = []

    def env(self, **extra: str) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items()
                if not k.startswith("CASES_") and k not in self.service_env}
        return {**base, **self.service_env, **SERVICE_ENV, **extra}

    def start(self, component: str, name: str | None = None, **env: str) -> Component:
        name = name or component
        proc = Component(name, component, self.env(**env), self.state / f"{name}.log")
        self.components.append(proc)
        return proc

    def _script(self, script: str, action: str) -> str:
        done = subprocess.run(["bash", str(SCRIPTS / script), action, str(self.state)],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{script} {action} failed:\n{done.stderr[-3000:]}"
        return done.stdout.strip()

    def stop_postgres(self) -> None:
        self._script("postgres.sh", "stop")

    def start_postgres(self) -> None:
        # the same URL as before, or the clients could not come back
        assert self._script("postgres.sh", "start") == self.settings.database_url

    def stop_kafka(self) -> None:
        self._script("kafka.sh", "stop")

    def start_kafka(self) -> None:
        assert self._script("kafka.sh", "start") == self.settings.kafka_bootstrap_servers

    def down(self) -> None:
        for component in getattr(self, "components", []):
            component.stop()
        subprocess.run(["bash", str(SERVICES), "down", str(self.state)], timeout=300)


@pytest.fixture
def stack() -> Iterator[Stack]:
    stack = Stack(services_state_dir())  # not under pytest's tmp_path (tests/conftest.py)
    state = stack.state.parent
    try:
        yield stack
    finally:
        stack.down()
        for component in stack.components:  # shown by pytest when the test failed
            tail = component.log.read_text(errors="replace").splitlines()[-60:]
            print(f"---- {component.name} (exit {component.proc.returncode}) ----",
                  *tail, sep="\n")
        if os.environ.get("OUTAGE_TESTS_KEEP"):  # to read every log after a run
            print(f"kept {state}")
        else:
            shutil.rmtree(state, ignore_errors=True)


# ---- what the broker and the database say ------------------------------------------

def wait_all_committed(settings: Settings, topics: list[str], timeout: float = 60) -> None:
    """Every record of these topics is committed by its group: nothing is stuck."""
    for topic in topics:
        wait_for(lambda t=topic: committed(settings, t) == end_offsets(settings, t),
                 timeout, f"{topic}: the group to commit up to the end of every partition")


def group_assignment(settings: Settings, topic: str) -> dict[str, list[int]]:
    """client.id of each member of the topic's group -> its partitions."""
    admin = AdminClient(settings.kafka())
    group = consumer_group(topic)
    description = admin.describe_consumer_groups([group], request_timeout=10)[group].result()
    return {m.client_id: sorted(tp.partition for tp in m.assignment.topic_partitions)
            for m in description.members}


def wait_assignment(settings: Settings, topic: str,
                    check: Callable[[dict[str, list[int]]], bool], what: str,
                    timeout: float = 60) -> dict[str, list[int]]:
    def probe() -> dict[str, list[int]] | None:
        assignment = group_assignment(settings, topic)
        return assignment if check(assignment) else None
    return wait_for(probe, timeout, what)


def split_evenly(assignment: dict[str, list[int]]) -> bool:
    return (len(assignment) == 2 and all(assignment.values())
            and sorted(p for ps in assignment.values() for p in ps) == list(range(PARTITIONS)))


def wait_for_events(db: psycopg.Connection, expected: dict[str, list[str]],
                    timeout: float = 120) -> None:
    """Wait until every order has at least its expected number of case events, then check
    that they are exactly the expected ones (a record applied twice would add an
    ActionRejected, a lost one would leave one out)."""
    def complete() -> bool:
        counts = dict(db.execute(
            "SELECT order_id, count(*) FROM case_events WHERE order_id = ANY(%s) "
            "GROUP BY order_id", (list(expected),)).fetchall())
        return all(counts.get(o, 0) >= len(types) for o, types in expected.items())
    wait_for(complete, timeout, f"the case events of {len(expected)} orders")
    for order_id, types in expected.items():
        assert [e["type"] for e in db_events(db, order_id)] == types, order_id


def assert_published_once(settings: Settings, db: psycopg.Connection,
                          timeout: float = 90) -> int:
    """Every case_events row is marked published, and `case-events` holds each row's
    event exactly once and nothing else. Returns how many events there are."""
    wait_for(lambda: db.execute("SELECT count(*) FROM unpublished_case_events")
             .fetchone()[0] == 0, timeout, "the relay to publish every case event")
    in_db = [r[0] for r in db.execute("SELECT record->>'event_id' FROM case_events")]
    assert len(in_db) == len(set(in_db))
    on_kafka = Counter(e["event_id"] for e in
                       read_topic(settings, CASE_EVENTS_TOPIC, lambda _e: True))
    doubled = {event_id: n for event_id, n in on_kafka.items() if n > 1}
    assert not doubled, f"{len(doubled)} case events published more than once"
    assert set(on_kafka) == set(in_db)
    return len(in_db)


def inbox_count(db: psycopg.Connection) -> int:
    return db.execute("SELECT count(*) FROM inbox").fetchone()[0]


def place_orders(stack: Stack, db: psycopg.Connection, scenarios: list[Scenario]) -> None:
    """OrderPlaced for each, applied by the `orders` consumer the caller started."""
    send(stack.settings, *(s.placed() for s in scenarios))
    ids = [s.order_id for s in scenarios]
    wait_for(lambda: db.execute(
        "SELECT count(*) FROM orders WHERE order_id = ANY(%s) AND terms IS NOT NULL",
        (ids,)).fetchone()[0] == len(ids), 90, f"{len(ids)} orders to be placed")


def scenarios(prefix: str, count: int) -> list[Scenario]:
    return [Scenario(f"{prefix}-{i:04d}") for i in range(count)]


def placed_scenarios(stack: Stack, prefix: str, count: int
                     ) -> tuple[psycopg.Connection, list[Scenario]]:
    """The `orders` consumer, the relay and the sweeper started, `count` orders placed; a
    connection."""
    stack.start("orders")
    stack.start("relay")
    stack.start("sweeper")
    db = psycopg.connect(stack.settings.database_url, autocommit=True)
    orders = scenarios(prefix, count)
    place_orders(stack, db, orders)
    return db, orders


# ---- 1. PostgreSQL down for a while ---------------------------------------------------

def test_database_outage_consumers_retry_commit_nothing_then_apply_everything_once(
        stack: Stack) -> None:
    settings = stack.settings
    inbound = ["orders", "case-actions"]
    consumers = [stack.start(topic) for topic in inbound]
    relay = stack.start("relay")
    stack.start("sweeper")
    db = psycopg.connect(settings.database_url, autocommit=True)

    first, second = scenarios("pg-first", 40), scenarios("pg-second", 40)
    send(settings, *(s.placed() for s in first), *(s.open_case() for s in first))
    wait_for_events(db, {s.order_id: ["CaseOpened"] for s in first})
    assert_published_once(settings, db)
    wait_all_committed(settings, inbound)
    before = {topic: committed(settings, topic) for topic in inbound}
    marks = {c.name: c.mark() for c in [*consumers, relay]}
    db.close()

    stack.stop_postgres()
    # while it is down: new orders with their cases, and the first cases closed
    send(settings, *(s.placed() for s in second), *(s.open_case() for s in second),
         *(s.close_case() for s in first))
    for consumer in consumers:  # each has the records in hand and keeps retrying
        wait_for(lambda c=consumer: len(c.logged("database_unavailable_retrying",
                                                 marks[c.name])) >= 5,
                 60, f"{consumer.name} to retry five times")
    wait_for(lambda: relay.logged("relay_database_unavailable", marks[relay.name]),
             30, "the relay to notice")
    for topic in inbound:
        assert end_offsets(settings, topic) != before[topic]  # records are waiting...
        assert committed(settings, topic) == before[topic], f"{topic} committed meanwhile"
    for consumer in consumers:  # ...and the consumers back off, more each time
        waits = [e["wait_seconds"] for e in
                 consumer.logged("database_unavailable_retrying", marks[consumer.name])]
        assert waits == sorted(waits) and waits[-1] >= 4 * waits[0], waits
        assert consumer.alive()

    stack.start_postgres()
    db = psycopg.connect(settings.database_url, autocommit=True)
    wait_for_events(db, {**{s.order_id: ["CaseOpened", "CaseClosed"] for s in first},
                         **{s.order_id: ["CaseOpened"] for s in second}})
    assert inbox_count(db) == len(first) * 3 + len(second) * 2
    assert assert_published_once(settings, db) == len(first) * 2 + len(second)
    wait_all_committed(settings, inbound)
    db.close()


# ---- 2. the broker down and back ------------------------------------------------------

def test_broker_outage_clients_reconnect_and_nothing_is_lost_or_doubled(stack: Stack) -> None:
    settings = stack.settings
    inbound = ["orders", "case-actions"]
    # a short session timeout: after a restart the broker waits that long for the
    # members it knew before, which are gone
    consumers = [stack.start(topic, **FAST_GROUP) for topic in inbound]
    relay = stack.start("relay")
    stack.start("sweeper")
    db = psycopg.connect(settings.database_url, autocommit=True)

    orders = scenarios("broker", 40)
    send(settings, *(s.placed() for s in orders), *(s.open_case() for s in orders))
    wait_for_events(db, {s.order_id: ["CaseOpened"] for s in orders})
    assert_published_once(settings, db)
    wait_all_committed(settings, inbound)

    marks = {c.name: c.mark() for c in [*consumers, relay]}
    stack.stop_kafka()
    # case events the relay cannot send yet: a sweep escalates every case whose seller
    # has not answered in three days
    swept = cases(stack.env(), "sweep", "--now", "2026-03-16T00:00:00Z")
    assert swept.returncode == 0, swept.stderr
    # Down for over a minute, the relay holding those events unacknowledged all along
    # (it used to give up after 60 s and send them again: twice on the topic once the
    # broker was back), and the consumers out of their group (session timed out).
    wait_for(lambda: [e for e in relay.logged("relay_waiting_for_broker", marks[relay.name])
                      if e["waited_seconds"] >= 65 and e["in_flight"] == len(orders)],
             120, "the relay to wait over a minute for the broker")
    for consumer in consumers:
        assert consumer.logged("partitions_lost", marks[consumer.name]), consumer.name
    assert db.execute("SELECT count(*) FROM unpublished_case_events"
                      ).fetchone()[0] == len(orders)
    stack.start_kafka()

    # records published after it returns are processed too: the buyers close their
    # escalated cases (after the sweep's moment: ahead of the watermark, swept to)
    closes = [s.close_case(at="2026-03-16T10:00:00Z") for s in orders]
    send(settings, *closes)
    wait_for(lambda: inbox_count(db) == len(orders) * 3, 60, "the closes to be stored")
    swept = cases(stack.env(), "sweep", "--now", "2026-03-16T11:00:00Z")
    assert swept.returncode == 0, swept.stderr
    wait_for_events(db, {s.order_id: ["CaseOpened", "CaseEscalated", "CaseClosed"]
                         for s in orders})
    assert inbox_count(db) == len(orders) * 3
    assert assert_published_once(settings, db) == len(orders) * 3
    wait_all_committed(settings, inbound)
    db.close()


# ---- 3. a consumer stalled past max.poll.interval.ms ----------------------------------

def test_consumer_stalled_past_max_poll_interval_loses_and_doubles_nothing(
        stack: Stack) -> None:
    settings = stack.settings
    db, orders = placed_scenarios(stack, "stall", 60)

    stalling = {**FAST_GROUP, "CASES_KAFKA_MAX_POLL_INTERVAL_MS": "8000"}
    instances = {name: stack.start("case-actions", name, CASES_KAFKA_CLIENT_ID=name, **stalling)
                 for name in ("actions-a", "actions-b")}
    wait_assignment(settings, "case-actions", split_evenly, "two members, two partitions each")

    # a real stall: the test stores a record under one OpenCase's event_id in a
    # transaction it keeps open, so the batch holding that record waits in PostgreSQL
    # (for the unique index), longer than max.poll.interval.ms
    openings = [s.open_case() for s in orders]
    blocker = psycopg.connect(settings.database_url)
    blocker.execute("INSERT INTO order_records (event_id, order_id, occurred_at, record_type, "
                    "topic, \"partition\", \"offset\", \"timestamp\", payload) "
                    "VALUES (%s, 'test', now(), 'test', 'test', 0, 0, 0, '')",
                    (openings[0][1]["event_id"],))
    send(settings, *openings)
    wait_for(lambda: db.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
    ).fetchone()[0] >= 1, 30, "a batch to wait for the row lock")
    taken_over = wait_assignment(
        settings, "case-actions",
        lambda a: len(a) == 1 and next(iter(a.values())) == list(range(PARTITIONS)),
        "the stalled member's partitions to move to the other", timeout=60)
    (survivor_name,) = taken_over
    stalled = next(i for n, i in instances.items() if n != survivor_name)
    survivor = instances[survivor_name]
    mark = stalled.mark()
    blocker.rollback()  # the stall ends; the stalled batch commits
    blocker.close()

    wait_for_events(db, {s.order_id: ["CaseOpened"] for s in orders})
    # the stalled member rejoins, gets partitions back and goes on consuming
    wait_assignment(settings, "case-actions", split_evenly, "the stalled member to rejoin")
    send(settings, *(s.close_case() for s in orders))
    wait_for_events(db, {s.order_id: ["CaseOpened", "CaseClosed"] for s in orders})
    after = [e.get("event") for e in stalled.lines()[mark:]]
    assert any("_MAX_POLL_EXCEEDED" in e.get("error", "") for e in
               stalled.logged("consume_error", mark)), "the stall did not pass the limit"
    lost = after.index("partitions_lost")  # told, and committed nothing for them
    again = next(n for n, e in enumerate(stalled.lines()[mark:])
                 if n > lost and e.get("event") == "partitions_assigned" and e["partitions"])
    assert [e for e in stalled.lines()[mark + again:]
            if e.get("event") == "batch_done" and e["stored"] > 0], (
        "the stalled member applied nothing after it rejoined")
    # the moved partitions were read again from the last commit: both members met the
    # stalled batch's records, and whichever stored them second found them taken (the
    # survivor, or the stalled member when the survivor's insert got the row first once
    # the stall ended)
    assert sum(e["duplicates"] for e in [*survivor.logged("batch_done"),
                                         *stalled.logged("batch_done", mark)]) >= 1
    assert inbox_count(db) == len(orders) * 3
    assert assert_published_once(settings, db) == len(orders) * 2
    wait_all_committed(settings, ["orders", "case-actions"])
    assert all(i.alive() for i in instances.values())
    db.close()


# ---- 4. one instance killed mid-stream -------------------------------------------------

def test_instance_killed_mid_stream_its_partitions_move_and_nothing_is_lost_or_doubled(
        stack: Stack) -> None:
    settings = stack.settings
    db, orders = placed_scenarios(stack, "kill", 300)

    instances = {name: stack.start("case-actions", name, CASES_KAFKA_CLIENT_ID=name,
                                   CASES_BATCH_SIZE="20", **FAST_GROUP)
                 for name in ("actions-a", "actions-b")}
    wait_assignment(settings, "case-actions", split_evenly, "two members, two partitions each")

    # the stream: each order's OpenCase, then each order's CloseCase, a few at a time
    records = [s.open_case()[1] for s in orders] + [s.close_case()[1] for s in orders]
    with ThreadPoolExecutor(1) as pool:
        streaming = pool.submit(stream, settings, "case-actions", records, 10)
        victim = instances["actions-a"]
        wait_for(lambda: len([e for e in victim.logged("batch_done") if e["stored"]]) >= 3,
                 60, "the victim to apply a few batches")
        assert not streaming.done(), "the stream ended before the kill"
        victim.kill()
        streaming.result(120)
    wait_assignment(settings, "case-actions",
                    lambda a: a == {"actions-b": list(range(PARTITIONS))},
                    "the survivor to own every partition")

    wait_for_events(db, {s.order_id: ["CaseOpened", "CaseClosed"] for s in orders})
    assert inbox_count(db) == len(orders) * 3
    assert assert_published_once(settings, db) == len(orders) * 2
    wait_all_committed(settings, ["orders", "case-actions"])
    assert instances["actions-b"].alive()
    db.close()


def stream(settings: Settings, topic: str, records: list[dict[str, Any]], per_step: int
           ) -> None:
    """Produce `records` in order, `per_step` every 50 ms: records keep flowing while
    the test kills an instance."""
    producer = Producer(settings.kafka(**{"enable.idempotence": True, "linger.ms": 5}))
    codec = shared_codec()
    for start in range(0, len(records), per_step):
        for record in records[start:start + per_step]:
            producer.produce(topic, key=record_key(topic, record).encode(),
                             value=codec.encode(clock.move_record(record)))
        producer.poll(0)
        time.sleep(0.05)
    assert producer.flush(30) == 0


# ---- 5. an instance stops while PostgreSQL is down ------------------------------------

def test_rebalance_during_database_outage_loses_nothing(stack: Stack) -> None:
    settings = stack.settings
    db, orders = placed_scenarios(stack, "pg-rebalance", 40)
    instances = {name: stack.start("case-actions", name, CASES_KAFKA_CLIENT_ID=name,
                                   **FAST_GROUP)
                 for name in ("actions-a", "actions-b")}
    wait_assignment(settings, "case-actions", split_evenly, "two members, two partitions each")
    db.close()

    stack.stop_postgres()
    send(settings, *(s.open_case() for s in orders))
    for instance in instances.values():
        wait_for(lambda i=instance: len(i.logged("database_unavailable_retrying")) >= 2,
                 60, f"{instance.name} to retry")
    leaving, survivor = instances["actions-a"], instances["actions-b"]
    mark = survivor.mark()
    # SIGTERM stops an instance even while it waits for the database: it gives its
    # batch up unstored and leaves the group
    leaving.proc.terminate()
    assert leaving.proc.wait(30) == 0
    assert leaving.logged("stopped_with_batch_unstored")
    wait_assignment(settings, "case-actions",
                    lambda a: a == {"actions-b": list(range(PARTITIONS))},
                    "the survivor to own every partition")
    # the survivor takes the partitions over while it is still retrying, and retries on
    def retries_after_takeover() -> int:
        entries = survivor.lines()[mark:]
        taken = [n for n, e in enumerate(entries)
                 if e.get("event") == "partitions_assigned" and e["partitions"]]
        if not taken:
            return 0
        return len([e for e in entries[taken[0]:]
                    if e.get("event") == "database_unavailable_retrying"])
    wait_for(lambda: retries_after_takeover() >= 2, 60,
             "the survivor to retry twice with the moved partitions assigned")
    stack.start_postgres()

    db = psycopg.connect(settings.database_url, autocommit=True)
    wait_for_events(db, {s.order_id: ["CaseOpened"] for s in orders}, timeout=60)
    assert inbox_count(db) == len(orders) * 2
    assert assert_published_once(settings, db) == len(orders)
    wait_all_committed(settings, ["orders", "case-actions"])
    db.close()
