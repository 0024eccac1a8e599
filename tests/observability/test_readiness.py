"""Readiness of the sweeper and the relay while PostgreSQL cannot be reached: each is
not ready once its waits last READINESS_RETRY_SECONDS (observability/health.py), as
wired in bootstrap/components.py. The connections fail here; the real outage is
tests/integration/test_readiness.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import psycopg
import pytest
from prometheus_client import REGISTRY

from bootstrap import components
from configuration import settings_from_env
from observability import health
from observability.health import Health
from relay import outbox
from sweeper import loop

SETTINGS = settings_from_env({"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
                              "DATABASE_URL": "postgresql://127.0.0.1:1/cases"})
#: how long the fake outage lasts: several times the shortened readiness limit
OUTAGE_SECONDS = 0.3


class Hurried(threading.Event):
    """A stop event whose waits take no time; set once OUTAGE_SECONDS have passed."""

    def __init__(self) -> None:
        super().__init__()
        self.until = time.monotonic() + OUTAGE_SECONDS

    def wait(self, timeout: float | None = None) -> bool:
        time.sleep(0.001)
        if time.monotonic() >= self.until:
            self.set()
        return self.is_set()


def refused(*_args: object, **_kwargs: object) -> psycopg.Connection:
    raise psycopg.OperationalError("connection refused")


def ready(component: str) -> float | None:
    return REGISTRY.get_sample_value("order_cases_ready", {"component": component})


def run_through_outage(monkeypatch: pytest.MonkeyPatch, name: str,
                       build: Callable[[threading.Event, Health], object]) -> float | None:
    monkeypatch.setattr(health, "READINESS_RETRY_SECONDS", 0.05)
    state = Health(name)
    state.ready(True)  # as it was before the database went away
    component = build(Hurried(), state)
    component.run()  # type: ignore[attr-defined]
    return ready(name)


def test_a_sweeper_that_cannot_reach_the_database_becomes_not_ready(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loop, "connect", refused)
    monkeypatch.setattr(loop.kafka, "admin", lambda _settings: None)
    assert run_through_outage(monkeypatch, "sweeper", lambda stop, state: components.sweeper(
        SETTINGS, stop, state)) == 0.0


def test_a_relay_that_cannot_reach_the_database_becomes_not_ready(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbox, "connect", refused)
    assert run_through_outage(monkeypatch, "relay", lambda stop, state: components.relay(
        SETTINGS, stop, state)) == 0.0
