"""Fixtures that bring up the real services the integration tests talk to.

Where KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL are set, those are used; otherwise the
project's own scripts (deploy/local/services.sh) start a private Kafka broker and
PostgreSQL on free ports for this test session and stop them at its end.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SERVICES = REPO / "deploy" / "local" / "services.sh"


def _parse_env_lines(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


@pytest.fixture(scope="session")
def service_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    given = {k: os.environ[k] for k in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")
             if os.environ.get(k)}
    if len(given) == 2:
        yield given
        return
    state = tmp_path_factory.mktemp("services")
    up = subprocess.run(["bash", str(SERVICES), "up", str(state)], capture_output=True,
                        text=True, timeout=600)
    if up.returncode != 0:
        subprocess.run(["bash", str(SERVICES), "down", str(state)], timeout=120)
        pytest.fail(f"local services did not start:\n{up.stderr[-3000:]}")
    try:
        yield _parse_env_lines(up.stdout)
    finally:
        subprocess.run(["bash", str(SERVICES), "down", str(state)], timeout=120)
