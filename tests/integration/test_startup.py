"""`cases run` started against services it cannot use: a clear line on stderr (what,
where, never the password), a bounded and logged wait for what can come back, an
immediate non-zero exit for what cannot, and SIGTERM honoured within a few seconds.
Real wrong URLs against the tests' PostgreSQL, and a closed port for Kafka."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.integration.conftest import wait_for

pytestmark = pytest.mark.integration

PASSWORD = "s3cret-never-shown"


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _url(base: str, *, user: str | None = None, port: int | None = None,
         database: str | None = None) -> str:
    """The tests' DATABASE_URL with a user (and a password), port or database changed."""
    parts = urlsplit(base)
    user = user or parts.username or "postgres"
    host = f"{parts.hostname}:{port or parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}:{PASSWORD}@{host}",
                                     path=f"/{database}" if database else parts.path))


def _run(env: dict[str, str], timeout: float = 60, **changes: str
         ) -> tuple[subprocess.CompletedProcess[str], float]:
    began = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "cases_cli.main", "run"],
                          env={**env, **changes}, capture_output=True, text=True,
                          timeout=timeout)
    return done, time.monotonic() - began


def _plain_lines(stderr: str) -> list[str]:
    """What stderr says besides the JSON log lines."""
    return [line for line in stderr.splitlines() if not line.startswith("{")]


def _logged(stderr: str, event: str) -> list[dict]:
    return [entry for line in stderr.splitlines() if line.startswith("{")
            if (entry := json.loads(line)).get("event") == event]


def test_a_database_that_does_not_exist_stops_the_start_at_once(env):
    url = _url(env["DATABASE_URL"], database="no_such_database")
    done, seconds = _run(env, DATABASE_URL=url)

    assert done.returncode == 1 and seconds < 15
    masked = url.replace(PASSWORD, "***")
    assert _plain_lines(done.stderr) == [
        f"cases: PostgreSQL at {masked}: FATAL: database \"no_such_database\" does not "
        "exist (SQLSTATE 3D000, InvalidCatalogName) (waiting will not change this)"]
    assert PASSWORD not in done.stderr and "Traceback" not in done.stderr
    assert not _logged(done.stderr, "waiting_for_services")


def test_a_role_the_server_does_not_know_stops_the_start_at_once(env):
    url = _url(env["DATABASE_URL"], user="no_such_role")
    done, seconds = _run(env, DATABASE_URL=url)

    assert done.returncode == 1 and seconds < 15
    assert _plain_lines(done.stderr) == [
        f"cases: PostgreSQL at {url.replace(PASSWORD, '***')}: FATAL: role \"no_such_role\" "
        "does not exist (SQLSTATE 28000, InvalidAuthorizationSpecification) (waiting will "
        "not change this)"]
    assert PASSWORD not in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(("url", "shown"), [
    ("not-a-url", "'not-a-url' cannot be read as a PostgreSQL URL or key=value string: "
                  "missing \"=\" after \"not-a-url\" in connection info string"),
    (f"postgresql://postgres:{PASSWORD}@[::1", "'postgresql://postgres:***@[::1' cannot be "
     "read as a PostgreSQL URL or key=value string: end of string reached when looking for "
     "matching \"]\" in IPv6 host address in URI: \"postgresql://postgres:***@[::1\""),
])
def test_a_malformed_database_url_is_one_line_and_no_traceback(env, url, shown):
    done, seconds = _run(env, DATABASE_URL=url)

    assert done.returncode == 1 and seconds < 15
    assert done.stderr.splitlines() == [f"cases: DATABASE_URL {shown}"]
    assert PASSWORD not in done.stderr


def test_a_database_that_refuses_connections_is_waited_for_a_bounded_time(env):
    url = _url(env["DATABASE_URL"], port=_closed_port())
    done, seconds = _run(env, DATABASE_URL=url, CASES_STARTUP_WAIT="4s")

    assert done.returncode == 1 and 4 <= seconds < 20
    masked = url.replace(PASSWORD, "***")
    assert _plain_lines(done.stderr) == [
        f"cases: gave up after waiting 4 s (CASES_STARTUP_WAIT); PostgreSQL at {masked}: "
        "Connection refused"]
    waits = _logged(done.stderr, "waiting_for_services")
    assert len(waits) >= 3
    assert {(w["service"], w["at"], w["reason"]) for w in waits} == {
        ("PostgreSQL", masked, "Connection refused")}
    assert [w["retry_in"] for w in waits[:3]] == [0.5, 1.0, 2.0]
    assert PASSWORD not in done.stderr


def test_an_unreachable_broker_is_logged_at_once_and_sigterm_ends_the_wait(env):
    bootstrap = f"127.0.0.1:{_closed_port()}"
    proc = subprocess.Popen([sys.executable, "-m", "cases_cli.main", "run"],
                            env={**env, "KAFKA_BOOTSTRAP_SERVERS": bootstrap},
                            stderr=subprocess.PIPE, text=True)
    lines: list[str] = []

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line.rstrip("\n"))

    reader = threading.Thread(target=read, daemon=True)
    started = time.monotonic()
    reader.start()
    try:
        wait_for(lambda: _logged("\n".join(lines), "starting"), timeout=10,
                 what="the first log line")
        first = time.monotonic() - started
        wait_for(lambda: _logged("\n".join(lines), "waiting_for_services"), timeout=30,
                 what="the wait to be logged")
        time.sleep(3)  # inside a metadata request that waits for the broker
        proc.send_signal(signal.SIGTERM)
        stopped = time.monotonic()
        status = proc.wait(15)
        took = time.monotonic() - stopped
    finally:
        if proc.poll() is None:
            proc.kill()
    reader.join(5)

    assert first < 5  # the service's first structured line (was 20-30 s)
    assert status == 1 and took < 3  # was 18 s, and status 0
    text = "\n".join(lines)
    waits = _logged(text, "waiting_for_services")
    assert {(w["service"], w["at"]) for w in waits} == {("Kafka", bootstrap)}
    assert waits[0]["reason"] == ("Failed to get metadata: Local: Broker transport failure "
                                  "(_TRANSPORT)")
    assert _plain_lines(text) == [
        f"cases: stopped before starting; Kafka at {bootstrap}: Failed to get metadata: "
        "Local: Broker transport failure (_TRANSPORT)"]
    # librdkafka's own complaints are throttled: a handful of lines, not many a second
    assert len(lines) < 20, lines
