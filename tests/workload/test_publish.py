"""A publish never hangs: a broker that is not there makes it fail within its timeout,
with an error that says so (no broker needed)."""

from __future__ import annotations

import socket
import time

import pytest

from configuration import Settings
from workload.generator import generate
from workload.publish import PublishError, publish


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_publish_to_no_broker_fails_within_its_timeout():
    address = f"127.0.0.1:{_closed_port()}"
    settings = Settings(kafka_bootstrap_servers=address, database_url="unused",
                        kafka_extra={"log_level": 0})
    started = time.monotonic()
    with pytest.raises(PublishError) as error:
        publish(settings, generate(1, 5), timeout=1.5)
    assert time.monotonic() - started < 10
    assert "not acknowledged" in str(error.value) and address in str(error.value)


def test_the_timeout_must_be_positive():
    with pytest.raises(ValueError):
        publish(Settings("127.0.0.1:1", "unused"), [], timeout=0)
