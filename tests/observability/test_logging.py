"""The log format's choice (observability/logging.py): JSON lines unless standard error
is a terminal and CASES_LOG_JSON is unset; the standard library's and librdkafka's lines
in the same format. The running service's own lines: tests/integration/
test_structured_logs.py."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from observability.logging import configure_logging


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def write_lines(stderr: io.StringIO, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setattr("sys.stderr", stderr)
    configure_logging("INFO", component="orders")
    structlog.get_logger("consumers").info("batch_done", records=3)
    logging.getLogger("yoyo.migrations").warning("a library's line")
    logging.getLogger("librdkafka.consumer").error(
        "FAIL [thrd:127.0.0.1:1/bootstrap]: Connect to ipv4#127.0.0.1:1 failed")
    return stderr.getvalue().splitlines()


def test_a_terminal_gets_the_console_format(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CASES_LOG_JSON", raising=False)
    lines = write_lines(Terminal(), monkeypatch)
    assert len(lines) == 3
    assert "batch_done" in lines[0] and "records" in lines[0]
    for line in lines:
        with pytest.raises(ValueError):
            json.loads(line)


@pytest.mark.parametrize("stderr, json_env", [(io.StringIO(), None), (Terminal(), "1")],
                         ids=["a file or a pipe", "a terminal with CASES_LOG_JSON"])
def test_json_lines_otherwise_every_logger_alike(monkeypatch: pytest.MonkeyPatch,
                                                 stderr: io.StringIO,
                                                 json_env: str | None) -> None:
    if json_env is None:
        monkeypatch.delenv("CASES_LOG_JSON", raising=False)
    else:
        monkeypatch.setenv("CASES_LOG_JSON", json_env)
    entries = [json.loads(line) for line in write_lines(stderr, monkeypatch)]
    assert [e["logger"] for e in entries] == ["consumers", "yoyo.migrations",
                                              "librdkafka.consumer"]
    assert all(e["component"] == "orders" and e["level"] and e["timestamp"]
               for e in entries)
    assert entries[0]["records"] == 3
    assert entries[2]["facility"] == "FAIL"
    assert entries[2]["event"].startswith("[thrd:127.0.0.1:1/bootstrap]")
