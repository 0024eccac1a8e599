"""Fixtures that bring up the real services the integration tests talk to.

The broker and database come, in this order, from KAFKA_BOOTSTRAP_SERVERS and
DATABASE_URL when both are set; from containers (testcontainers) when a Docker engine
answers; else from the project's own scripts (deploy/local/services.sh), which start a
private Kafka broker and PostgreSQL on free ports for this test session and stop them at
its end. The session header says which.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SERVICES = REPO / "deploy" / "local" / "services.sh"
#: the images the containers path runs (the versions the local scripts run)
KAFKA_IMAGE = "apache/kafka:4.4.0"
POSTGRES_IMAGE = "postgres:15"


def _parse_env_lines(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def _docker_engine() -> bool:
    """Whether a Docker engine answers (the client alone is not enough)."""
    try:
        import docker  # testcontainers' own dependency

        docker.from_env(timeout=3).ping()
        return True
    except Exception:  # no socket, no permission, no engine: all mean no containers
        return False


def services_path() -> str:
    if all(os.environ.get(k) for k in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")):
        return "the environment (KAFKA_BOOTSTRAP_SERVERS, DATABASE_URL)"
    if _docker_engine():
        return "containers (testcontainers)"
    return "local services (deploy/local/services.sh)"


def pytest_report_header() -> str:
    return f"broker and database: {services_path()}"


@pytest.fixture(scope="session")
def service_env() -> Iterator[dict[str, str]]:
    path = services_path()
    if path.startswith("the environment"):
        yield {k: os.environ[k] for k in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")}
    elif path.startswith("containers"):
        yield from _containers()
    else:
        yield from _local_services(services_state_dir())


def services_state_dir() -> Path:
    """Where the local services keep their state: not under pytest's tmp_path. A pytest
    session starting meanwhile (a second test run, another checkout's CI) resets
    /tmp/pytest-of-USER to mode 0700, and the database server, which runs as another
    user when the tests run as root, could no longer reach its files."""
    return Path(tempfile.mkdtemp(prefix="order-cases-tests-")) / "services"


def _containers() -> Iterator[dict[str, str]]:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer

    with KafkaContainer(KAFKA_IMAGE).with_kraft() as kafka, \
            PostgresContainer(POSTGRES_IMAGE, dbname="order_cases") as postgres:
        url = postgres.get_connection_url().replace("postgresql+psycopg2://",
                                                    "postgresql://")
        yield {"KAFKA_BOOTSTRAP_SERVERS": kafka.get_bootstrap_server(), "DATABASE_URL": url}


def _local_services(state: Path) -> Iterator[dict[str, str]]:
    up = subprocess.run(["bash", str(SERVICES), "up", str(state)], capture_output=True,
                        text=True, timeout=600)
    if up.returncode != 0:
        subprocess.run(["bash", str(SERVICES), "down", str(state)], timeout=120)
        pytest.fail(f"local services did not start:\n{up.stderr[-3000:]}")
    try:
        yield _parse_env_lines(up.stdout)
    finally:
        subprocess.run(["bash", str(SERVICES), "down", str(state)], timeout=120)
        shutil.rmtree(state.parent, ignore_errors=True)
