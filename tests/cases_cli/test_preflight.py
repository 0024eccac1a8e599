"""`cases setup` creates the topics as the deployment says; `cases run` only checks that
the database is migrated and every topic exists (Kafka and PostgreSQL are faked here; the
real ones are in tests/integration/test_cli.py)."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
from confluent_kafka import KafkaError, KafkaException

import consumers.topics
from bootstrap.supervisor import when_reachable
from cases_cli import commands, preflight
from configuration import settings_from_env
from consumers.topics import all_topics, create_topics

ENV = {"KAFKA_BOOTSTRAP_SERVERS": "localhost:9092", "DATABASE_URL": "postgresql://localhost/c"}


class FakeAdmin:
    """An AdminClient whose cluster has `existing` and records what it is asked to create."""

    existing: ClassVar[list[str]] = []
    created: ClassVar[list[Any]] = []

    def __init__(self, _config: dict[str, Any]) -> None:
        pass

    def list_topics(self, timeout: float = 0) -> SimpleNamespace:
        return SimpleNamespace(topics=dict.fromkeys(self.existing))

    def create_topics(self, topics: list[Any], operation_timeout: float = 0) -> dict[str, Any]:
        self.created.extend(topics)
        return {t.topic: SimpleNamespace(result=lambda: None) for t in topics}


@pytest.fixture
def admin(monkeypatch: pytest.MonkeyPatch) -> type[FakeAdmin]:
    FakeAdmin.existing, FakeAdmin.created = [], []
    monkeypatch.setattr(consumers.topics, "_admin", FakeAdmin)
    return FakeAdmin


def test_setup_leaves_partitions_and_replicas_to_the_broker_by_default(admin):
    FakeAdmin.existing = ["orders"]
    created = create_topics(settings_from_env(ENV))
    assert created == [t for t in all_topics() if t != "orders"]
    assert {(t.num_partitions, t.replication_factor) for t in admin.created} == {(-1, -1)}


def test_setup_takes_the_deployments_layout_and_the_command_line_wins(admin):
    settings = settings_from_env({**ENV, "CASES_TOPIC_PARTITIONS": "8",
                                  "CASES_TOPIC_REPLICATION_FACTOR": "3"})
    create_topics(settings)
    assert {(t.num_partitions, t.replication_factor) for t in admin.created} == {(8, 3)}
    FakeAdmin.created = []
    create_topics(settings, partitions=2)
    assert {(t.num_partitions, t.replication_factor) for t in admin.created} == {(2, 3)}


def test_inbound_topics_carry_the_brokers_time_and_the_others_the_producers(admin):
    create_topics(settings_from_env(ENV))
    types = {t.topic: (t.config or {}).get("message.timestamp.type") for t in admin.created}
    assert types == {"orders": "LogAppendTime", "messages": "LogAppendTime",
                     "carrier-tracking": "LogAppendTime", "payments": "LogAppendTime",
                     "case-actions": "LogAppendTime", "orders.dlq": None,
                     "messages.dlq": None, "carrier-tracking.dlq": None,
                     "payments.dlq": None, "case-actions.dlq": None, "case-events": None}


def test_run_names_what_is_not_set_up_in_one_line_and_creates_nothing(admin, monkeypatch):
    FakeAdmin.existing = [t for t in all_topics() if t not in ("payments.dlq", "case-events")]
    monkeypatch.setattr(preflight, "pending_migrations", lambda _url: ["0005.inbox-retention"])
    with pytest.raises(commands.CommandError) as raised:
        commands.set_up(settings_from_env(ENV))
    message = str(raised.value)
    assert "\n" not in message
    assert "database migrations not applied: 0005.inbox-retention" in message
    assert "topics missing: payments.dlq, case-events" in message
    assert "run `cases setup`" in message
    assert admin.created == []


def test_run_waits_while_a_service_cannot_be_reached_then_goes_on(admin, monkeypatch):
    FakeAdmin.existing = all_topics()
    answers = [KafkaException(KafkaError(KafkaError._TRANSPORT)), []]

    def pending(_url: str) -> list[str]:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(preflight, "pending_migrations", pending)
    waited: list[float] = []
    stop = threading.Event()
    monkeypatch.setattr(stop, "wait", lambda delay: waited.append(delay))
    assert when_reachable(settings_from_env(ENV), stop, commands.set_up) is True
    assert waited == [0.5] and answers == []


def _failing(*errors: BaseException):
    answers = list(errors)

    def ready(_settings) -> None:
        if answers:
            raise answers.pop(0)
    return ready


def test_run_gives_up_at_once_on_what_waiting_cannot_change():
    from bootstrap.supervisor import CannotStart

    refused = KafkaException(KafkaError(KafkaError._AUTHENTICATION, "SASL handshake failed"))
    with pytest.raises(CannotStart) as raised:
        when_reachable(settings_from_env(ENV), threading.Event(), _failing(refused))
    assert str(raised.value) == ("Kafka at localhost:9092: SASL handshake failed "
                                 "(_AUTHENTICATION) (waiting will not change this)")


def test_run_waits_a_bounded_time_then_says_what_it_waited_for(monkeypatch):
    from bootstrap.supervisor import CannotStart

    settings = settings_from_env({**ENV, "CASES_STARTUP_WAIT": "3s"})
    now = [0.0]
    stop = threading.Event()
    waited: list[float] = []

    def wait(delay: float) -> bool:
        waited.append(delay)
        now[0] += delay
        return False

    monkeypatch.setattr(stop, "wait", wait)
    down = KafkaException(KafkaError(KafkaError._TRANSPORT, "Broker transport failure"))
    with pytest.raises(CannotStart) as raised:
        when_reachable(settings, stop, _failing(*[down] * 10), clock=lambda: now[0])
    assert waited == [0.5, 1.0, 1.5]
    assert str(raised.value) == ("gave up after waiting 3 s (CASES_STARTUP_WAIT); Kafka at "
                                 "localhost:9092: Broker transport failure (_TRANSPORT)")


def test_run_stopped_while_waiting_exits_with_what_it_waited_for():
    from bootstrap.supervisor import CannotStart

    stop = threading.Event()
    stop.set()
    down = KafkaException(KafkaError(KafkaError._TRANSPORT, "Broker transport failure"))
    with pytest.raises(CannotStart, match=r"^stopped before starting; Kafka at localhost:9092"):
        when_reachable(settings_from_env(ENV), stop, _failing(down))


def test_a_malformed_database_url_is_a_configuration_error_without_its_password():
    from configuration import ConfigurationError

    with pytest.raises(ConfigurationError) as raised:
        settings_from_env({**ENV, "DATABASE_URL": "postgresql://u:hunter2@[::1"})
    assert "hunter2" not in str(raised.value) and "u:***@" in str(raised.value)
