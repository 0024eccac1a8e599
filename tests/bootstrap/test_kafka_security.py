"""Kafka security settings given as CASES_KAFKA_* reach every client the service builds,
the clients' own settings never drop them, and no password shows in Settings' repr."""

from __future__ import annotations

import json
import ssl
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest
import structlog
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

import bootstrap.kafka
import consumers.redrive
from bootstrap import kafka
from cases_cli.errors import CommandError
from cases_cli.publishing import events, publish
from configuration import ConfigurationError, mask_database_url, settings_from_env
from consumers.topics import all_topics, create_topics

PASSWORD = "pw-4f7c1e9b-not-for-logs"
DB_PASSWORD = "db-8a2d5c3e-not-for-logs"


def _ca_file() -> str:
    try:
        import certifi
        return certifi.where()
    except ImportError:
        path = ssl.get_default_verify_paths().cafile
        if path and Path(path).exists():
            return path
    pytest.skip("no CA bundle on this machine")


@pytest.fixture
def env() -> dict[str, str]:
    return {
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",  # nothing listens: no client connects
        "DATABASE_URL": f"postgresql://cases:{DB_PASSWORD}@127.0.0.1:9/order_cases",
        "CASES_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "CASES_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "CASES_KAFKA_SASL_USERNAME": "order-cases",
        "CASES_KAFKA_SASL_PASSWORD": PASSWORD,
        "CASES_KAFKA_SSL_CA_LOCATION": _ca_file(),
    }


def _security(env: dict[str, str]) -> dict[str, str]:
    return {"security.protocol": env["CASES_KAFKA_SECURITY_PROTOCOL"],
            "sasl.mechanism": env["CASES_KAFKA_SASL_MECHANISM"],
            "sasl.username": env["CASES_KAFKA_SASL_USERNAME"],
            "sasl.password": env["CASES_KAFKA_SASL_PASSWORD"],
            "ssl.ca.location": env["CASES_KAFKA_SSL_CA_LOCATION"]}


class _Recorder:
    """Stands in for a librdkafka client to record the configuration it is built with."""

    built: ClassVar[list[tuple[str, dict[str, Any]]]] = []

    def __init__(self, config: dict[str, Any]) -> None:
        self.built.append((self.kind, dict(config)))

    kind = "client"

    def produce(self, *args: Any, **kwargs: Any) -> None:
        pass

    def flush(self, *args: Any) -> int:
        return 0

    def poll(self, *args: Any) -> None:
        return None

    def close(self) -> None:
        pass

    def list_topics(self, topic: str | None = None, timeout: float = 0) -> SimpleNamespace:
        # every topic exists for create_topics; none for `cases events`, which then stops
        return SimpleNamespace(topics={} if topic else dict.fromkeys(all_topics()))


def _recorder(kind: str) -> type[_Recorder]:
    return type(kind, (_Recorder,), {"kind": kind})


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], tmp_path: Path,
          ) -> list[tuple[str, dict[str, Any]]]:
    """Builds every Kafka client the service has (all of them come from bootstrap.kafka),
    each recorded under what it is, in the order the roles below build them."""
    _Recorder.built = []
    monkeypatch.setattr(bootstrap.kafka, "Consumer", _recorder("consumer"))
    monkeypatch.setattr(bootstrap.kafka, "KafkaProducer", _recorder("producer"))
    monkeypatch.setattr(bootstrap.kafka, "AdminClient", _recorder("admin"))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = settings_from_env(env)

    kafka.inbound_consumer(settings, "orders", kafka.consumer_group("orders"))
    kafka.producer(settings, "dead-letters")
    kafka.producer(settings, "relay")
    create_topics(settings)
    lines = tmp_path / "orders.jsonl"
    lines.write_text(json.dumps({"event_id": "e1", "type": "OrderCancelled",
                                 "occurred_at": "2026-03-01T10:00:00Z", "order_id": "o1"}))
    publish("orders", str(lines))
    with pytest.raises(CommandError):
        events(from_beginning=True, follow=False)
    kafka.private_consumer(settings, "order-cases.replay.orders.test")  # as a replay does
    consumers.redrive.redrive_consumer(settings, "orders")
    return _Recorder.built


def test_security_settings_reach_every_client_the_service_builds(built, env):
    # inbound consumer, dead-letter and relay producers, admin (set-up), the publish
    # producer, the events, replay and redrive consumers
    assert [kind for kind, _ in built] == [
        "consumer", "producer", "producer", "admin", "producer", "consumer", "consumer",
        "consumer"]
    for kind, config in built:
        for name, value in _security(env).items():
            assert config.get(name) == value, (kind, name)


def test_librdkafka_accepts_the_clients_configurations(built):
    """The real clients take each configuration (property names and the CA file are
    checked when a client is created); nothing listens, so none connects."""
    classes = {"consumer": Consumer, "producer": Producer, "admin": AdminClient}
    for kind, config in built:
        cls = classes[kind.rsplit(" ", 1)[-1]]
        client = cls(config)
        if isinstance(client, Consumer):
            client.close()


def test_a_clients_own_setting_never_replaces_a_security_setting(env):
    settings = settings_from_env(env)
    config = settings.kafka(**{"security.protocol": "PLAINTEXT", "sasl.mechanism": "PLAIN",
                               "ssl.ca.location": "/elsewhere"})
    assert {k: config[k] for k in _security(env)} == _security(env)


def test_a_clients_own_setting_replacing_a_deployment_setting_is_logged(env):
    settings = settings_from_env({**env, "CASES_KAFKA_LINGER_MS": "50"})
    with structlog.testing.capture_logs() as logs:
        config = settings.kafka(**{"linger.ms": 5, "enable.idempotence": True})
    assert config["linger.ms"] == 5  # the runtime's own choice stands ...
    assert logs == [{"event": "kafka_setting_overridden", "setting": "linger.ms",
                     "log_level": "warning"}]  # ... and says so, without the value


def test_settings_repr_masks_every_secret(env):
    settings = settings_from_env({**env, "CASES_KAFKA_SSL_KEY_PASSWORD": "key-pw-secret",
                                  "CASES_KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET": "oauth-secret"})
    for text in (repr(settings), str(settings), f"{settings}"):
        for secret in (PASSWORD, DB_PASSWORD, "key-pw-secret", "oauth-secret"):
            assert secret not in text
        assert "postgresql://cases:***@127.0.0.1:9/order_cases" in text
        assert "'sasl.password': '***'" in text and "'sasl.username': 'order-cases'" in text


@pytest.mark.parametrize(("url", "masked"), [
    ("postgresql://cases:s3cret@db:5432/order_cases",
     "postgresql://cases:***@db:5432/order_cases"),
    ("postgresql://cases@db/order_cases?password=s3cret&sslmode=require",
     "postgresql://cases@db/order_cases?password=***&sslmode=require"),
    ("host=db user=cases password=s3cret dbname=order_cases",
     "host=db user=cases password=*** dbname=order_cases"),
    ("postgresql://cases@db/order_cases", "postgresql://cases@db/order_cases"),
])
def test_database_urls_are_masked_in_every_form(url, masked):
    assert mask_database_url(url) == masked


def test_record_size_limit_has_a_default_below_the_kafka_limit_and_can_be_set(env):
    assert settings_from_env(env).max_record_bytes == 512 * 1024
    assert settings_from_env({**env, "CASES_MAX_RECORD_BYTES": "1000"}).max_record_bytes == 1000
    with pytest.raises(ConfigurationError, match="CASES_MAX_RECORD_BYTES must be between"):
        settings_from_env({**env, "CASES_MAX_RECORD_BYTES": "999000"})
    # a deployment that raised Kafka's limit may raise this one with it
    raised = {**env, "CASES_KAFKA_MESSAGE_MAX_BYTES": "4000000",
              "CASES_MAX_RECORD_BYTES": "2000000"}
    assert settings_from_env(raised).max_record_bytes == 2_000_000
