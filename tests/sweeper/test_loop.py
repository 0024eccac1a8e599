"""The sweeper's loop: decisions go on whatever happens to the inbox's retention (the
passes and the database are faked here; the real ones run in tests/integration)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from configuration import settings_from_env
from sweeper import loop

SETTINGS = settings_from_env({"KAFKA_BOOTSTRAP_SERVERS": "localhost:9092",
                              "DATABASE_URL": "postgresql://localhost/cases",
                              "CASES_SWEEP_INTERVAL_SECONDS": "0.001"})


class LockedConnection:
    """Grants the sweeper's advisory lock; has nothing waiting to be decided."""

    def execute(self, sql: Any, _params: Any = None, **_kwargs: Any) -> LockedConnection:
        self.last = str(sql)
        return self

    def fetchone(self) -> tuple[Any]:
        return (True,) if "advisory" in self.last else (None,)

    def notifies(self, timeout: float, stop_after: int) -> list[Any]:
        return []


def run_sweeper(monkeypatch: pytest.MonkeyPatch, retention_error: Exception,
                passes: int = 3) -> list[str]:
    """Lead until `passes` decision passes ran; what the loop called, in order."""
    calls: list[str] = []
    stop = threading.Event()
    sweeper = loop.Sweeper(SETTINGS, stop)

    def sweep_once(_conn: object, _reader: object) -> None:
        calls.append("decide")
        if calls.count("decide") == passes:
            stop.set()

    def retention(_settings: object, _conn: object, _now: object) -> int:
        calls.append("retention")
        raise retention_error

    monkeypatch.setattr(sweeper, "sweep_once", sweep_once)
    monkeypatch.setattr(loop, "inbox_retention_pass", retention)
    monkeypatch.setattr(loop, "MEASURE_AT_LEAST_EVERY", 0.0)  # a pass each time round
    # type: ignore below: fake connection and settings
    sweeper._lead(LockedConnection(), object())  # type: ignore[arg-type]
    return calls


def test_a_retention_pass_kafka_could_not_answer_is_tried_again_soon(monkeypatch):
    monkeypatch.setattr(loop, "RETENTION_RETRY_SECONDS", 0.0)
    calls = run_sweeper(monkeypatch, KafkaException(KafkaError(KafkaError._TRANSPORT)))
    assert calls == ["decide", "retention", "decide", "retention", "decide"]


def test_a_fault_of_the_retention_pass_never_stops_the_decisions(monkeypatch):
    calls = run_sweeper(monkeypatch, RuntimeError("a bug"))
    assert calls == ["decide", "retention", "decide", "decide"]  # the next try: in an hour
