"""Readiness, liveness and the log through outages, on a broker and database of the
test's own (test_outages.py's Stack), with `cases run` serving HTTP: /readyz stops
answering 200 while PostgreSQL is down and answers 200 again once it is back, while
/healthz answers 200 all along (the loops go round, waiting). While the broker is down,
librdkafka's lines come out structured like every other (`cases run` writes nothing on
standard output, so its log is its standard error)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import psycopg
import pytest

from tests.conftest import REPO
from tests.integration.conftest import send, wait_for
from tests.integration.probe import free_port, get
from tests.integration.test_outages import Component, Stack, scenarios, stack  # noqa: F401
from tests.integration.test_structured_logs import structured

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class Supervisor(Component):
    """`cases run`: every component, serving /healthz, /readyz and /metrics; remembers
    every status /healthz answered."""

    def __init__(self, stack: Stack) -> None:  # noqa: F811
        self.name, self.log = "cases-run", stack.state / "cases-run.log"
        self.url = f"http://127.0.0.1:{free_port()}"
        self.liveness: list[int] = []
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "cases_cli.main", "run"],
                env=stack.env(CASES_HTTP_PORT=self.url.rsplit(":", 1)[1]), stdout=out,
                stderr=subprocess.STDOUT, cwd=REPO)
        stack.components.append(self)

    def readiness(self) -> tuple[int, dict[str, Any]]:
        """/readyz's status and what it says of each component (and /healthz asked)."""
        self.liveness.append(get(f"{self.url}/healthz")[0])
        status, body = get(f"{self.url}/readyz")
        components: dict[str, Any] = json.loads(body)["components"]
        return status, components

    def wait_ready(self, what: str) -> None:
        wait_for(lambda: self.proc.poll() is not None or get_quietly(self), 120,
                 "the HTTP endpoint")
        wait_for(lambda: self.readiness()[0] == 200, 120, what)


def stored(db: psycopg.Connection, order_ids: list[str]) -> int:
    return db.execute("SELECT count(*) FROM orders WHERE order_id = ANY(%s)",
                      (order_ids,)).fetchone()[0]


def test_readiness_drops_while_postgres_is_down_and_returns_after(
        stack: Stack) -> None:  # noqa: F811
    service = Supervisor(stack)
    service.wait_ready("the service to be ready")

    stack.stop_postgres()
    # records the orders consumer holds, waiting, while the database is away
    orders = scenarios("readiness", 5)
    send(stack.settings, *(s.placed() for s in orders))

    def waiting_components_not_ready() -> bool:
        status, components = service.readiness()
        return status == 503 and not any(components[n]["ready"]
                                         for n in ("orders", "relay", "sweeper"))
    wait_for(waiting_components_not_ready, 120,
             "/readyz to say the orders consumer, the relay and the sweeper are not ready")

    stack.start_postgres()
    service.wait_ready("the service to be ready again")
    assert service.alive()
    assert service.liveness and set(service.liveness) == {200}, service.liveness
    with psycopg.connect(stack.settings.database_url, autocommit=True) as db:
        wait_for(lambda: stored(db, [s.order_id for s in orders]) == len(orders), 60,
                 "the records that waited to be stored")
    structured(service.log.read_text())


def test_librdkafka_lines_while_the_broker_is_down_are_structured(
        stack: Stack) -> None:  # noqa: F811
    service = Supervisor(stack)
    service.wait_ready("the service to be ready")

    stack.stop_kafka()
    wait_for(lambda: len([e for e in service.lines()
                     if str(e.get("logger", "")).startswith("librdkafka")])
             >= 3, 120, "librdkafka to report the broker gone")
    stack.start_kafka()
    orders = scenarios("broker-back", 3)
    send(stack.settings, *(s.placed() for s in orders))
    with psycopg.connect(stack.settings.database_url, autocommit=True) as db:
        wait_for(lambda: stored(db, [s.order_id for s in orders]) == len(orders), 120,
                 "records sent after the broker is back to be stored")
    assert service.alive()

    entries = structured(service.log.read_text())
    from_librdkafka = [e for e in entries if e["logger"].startswith("librdkafka")]
    assert from_librdkafka
    assert all(e["facility"] and e["facility"].isupper() for e in from_librdkafka)


def get_quietly(service: Supervisor) -> bool:
    """Whether the endpoint answers at all yet (the server starts with the process)."""
    try:
        get(f"{service.url}/healthz", timeout=2)
    except OSError:
        return False
    return True
