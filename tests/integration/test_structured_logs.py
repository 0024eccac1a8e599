"""Nothing reaches standard error outside the structured format: `cases run`, waiting for
a broker or a database it cannot reach and then stopped with SIGTERM, writes only JSON
lines that name their component, logger and level (the default when standard error is
not a terminal), and then the one line every `cases` command ends a failure with: it was
stopped before it started, so its status is 1. A running service's librdkafka lines
while its broker is down: tests/integration/test_readiness.py."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration

NOWHERE = "127.0.0.1:1"


def structured(text: str) -> list[dict[str, Any]]:
    """Every line as JSON with its component, logger and level (AssertionError naming
    the first line that is not)."""
    entries = []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            raise AssertionError(f"not a JSON line on stderr: {line[:300]!r}") from None
        assert isinstance(entry, dict) and all(entry.get(k) for k in (
            "component", "logger", "level", "event", "timestamp")), line[:300]
        entries.append(entry)
    return entries


def run_then_stop(env: dict[str, str], components: list[str], tmp_path: Path,
                  waits: int) -> list[dict[str, Any]]:
    """`cases run COMPONENTS` until it has said `waits` times that it waits for its
    services, then SIGTERM; its standard error, checked line by line."""
    env = {k: v for k, v in env.items() if k != "CASES_LOG_JSON"}  # the default format
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    with open(out, "w") as stdout, open(err, "w") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "cases_cli.main", "run", *components],
                                env=env, stdout=stdout, stderr=stderr)
    try:
        wait_for(lambda: proc.poll() is not None
                 or err.read_text().count('"waiting_for_services"') >= waits,
                 90, f"{waits} waits for the services")
        assert proc.poll() is None, err.read_text()[-3000:]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 1
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    assert out.read_text() == ""
    *logged, reason = err.read_text().splitlines()
    assert reason.startswith("cases: stopped before starting; "), reason
    entries = structured("\n".join(logged))
    assert [e["event"] for e in entries].count("stopping") == 1
    return entries


def test_a_consumer_without_its_broker_logs_only_structured_lines(
        env: dict[str, str], tmp_path: Path) -> None:
    entries = run_then_stop({**env, "KAFKA_BOOTSTRAP_SERVERS": NOWHERE}, ["orders"],
                            tmp_path, waits=1)
    waits = [e for e in entries if e["event"] == "waiting_for_services"]
    assert waits and all(e["service"] == "Kafka" and e["at"] == NOWHERE for e in waits)


def test_every_component_without_its_database_logs_only_structured_lines(
        env: dict[str, str], tmp_path: Path) -> None:
    database = f"postgresql://postgres@{NOWHERE}/order_cases"
    entries = run_then_stop({**env, "DATABASE_URL": database}, [], tmp_path, waits=3)
    waits = [e for e in entries if e["event"] == "waiting_for_services"]
    assert waits and all(e["service"] == "PostgreSQL" and e["reason"] == "Connection refused"
                         for e in waits)
