"""The sweeper's loop: the time rules go on whatever happens to the inbox's retention
(its passes are faked here; the real ones are in tests/integration)."""

from __future__ import annotations

import threading

import pytest
from confluent_kafka import KafkaError, KafkaException

from cases_cli import commands
from configuration import settings_from_env

SETTINGS = settings_from_env({"KAFKA_BOOTSTRAP_SERVERS": "localhost:9092",
                              "DATABASE_URL": "postgresql://localhost/cases",
                              "CASES_SWEEP_INTERVAL_SECONDS": "0.001"})


def run_sweeper(monkeypatch: pytest.MonkeyPatch, retention_error: Exception,
                sweeps: int = 3) -> list[str]:
    """Run the loop until it has swept `sweeps` times; what it called, in order."""
    calls: list[str] = []
    stop = threading.Event()

    def sweep(_settings: object, _now: object) -> int:
        calls.append("sweep")
        if calls.count("sweep") == sweeps:
            stop.set()
        return 0

    def retention(_settings: object, _now: object) -> int:
        calls.append("retention")
        raise retention_error

    monkeypatch.setattr(commands, "sweep_pass", sweep)
    monkeypatch.setattr(commands, "inbox_retention_pass", retention)
    commands._run_sweeper(SETTINGS, stop)
    return calls


def test_a_retention_pass_kafka_could_not_answer_is_tried_again_after_the_next_sweep(
        monkeypatch):
    calls = run_sweeper(monkeypatch, KafkaException(KafkaError(KafkaError._TRANSPORT)))
    assert calls == ["sweep", "retention", "sweep", "retention", "sweep"]


def test_a_fault_of_the_retention_pass_never_stops_the_time_rules(monkeypatch):
    calls = run_sweeper(monkeypatch, RuntimeError("a bug"))
    assert calls == ["sweep", "retention", "sweep", "sweep"]  # the next try: in an hour
