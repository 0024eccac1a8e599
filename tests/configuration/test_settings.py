"""Settings and policy numbers from the environment."""

import datetime as dt

import pytest

from bootstrap.kafka import inbound_consumer_config
from configuration import ConfigurationError, parse_duration, settings_from_env
from domain.policy import Policy

BASE = {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092", "DATABASE_URL": "postgresql://x/y"}


def test_policy_defaults_are_the_marketplace_numbers():
    policy = settings_from_env(BASE).policy
    assert policy == Policy()
    assert (policy.opening_window, policy.escalation_after, policy.seller_response_time,
            policy.late_delivery_after, policy.unknown_order_hold) == (
        dt.timedelta(days=100), dt.timedelta(days=3), dt.timedelta(days=3),
        dt.timedelta(days=365), dt.timedelta(hours=24))


def test_each_policy_number_can_be_set_per_deployment():
    env = {**BASE, "CASES_POLICY_ESCALATION_AFTER": "2d", "CASES_POLICY_UNKNOWN_ORDER_HOLD": "36h"}
    policy = settings_from_env(env).policy
    assert policy.escalation_after == dt.timedelta(days=2)
    assert policy.unknown_order_hold == dt.timedelta(hours=36)


def test_kafka_security_settings_pass_through():
    env = {**BASE, "CASES_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
           "CASES_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512"}
    kafka = settings_from_env(env).kafka()
    assert kafka["security.protocol"] == "SASL_SSL"
    assert kafka["sasl.mechanism"] == "SCRAM-SHA-512"


def test_kafka_settings_change_the_consumers_tuning_but_not_its_guarantees():
    default = inbound_consumer_config(settings_from_env(BASE), "orders", "order-cases.orders")
    assert default["max.poll.interval.ms"] == 300_000
    env = {**BASE, "CASES_KAFKA_MAX_POLL_INTERVAL_MS": "8000",
           "CASES_KAFKA_SESSION_TIMEOUT_MS": "6000",
           "CASES_KAFKA_ENABLE_AUTO_OFFSET_STORE": "true", "CASES_KAFKA_GROUP_ID": "other"}
    config = inbound_consumer_config(settings_from_env(env), "orders", "order-cases.orders")
    assert (config["max.poll.interval.ms"], config["session.timeout.ms"]) == ("8000", "6000")
    assert config["enable.auto.offset.store"] is False  # offsets only after the commit
    assert config["group.id"] == "order-cases.orders"


def test_missing_connection_and_bad_durations_are_clear_errors():
    with pytest.raises(ConfigurationError, match="DATABASE_URL is not set"):
        settings_from_env({"KAFKA_BOOTSTRAP_SERVERS": "x"})
    with pytest.raises(ConfigurationError, match="not a duration"):
        parse_duration("three days")


def test_batch_sizes_are_per_topic_and_each_can_be_set():
    default = settings_from_env(BASE)
    assert default.batch_size_for("orders") == default.batch_size_for("payments") == 500
    assert default.batch_size_for("carrier-tracking") > default.batch_size_for("payments")
    one = settings_from_env({**BASE, "CASES_BATCH_SIZE_CARRIER_TRACKING": "7"})
    assert one.batch_size_for("carrier-tracking") == 7
    assert one.batch_size_for("orders") == default.batch_size_for("orders")
    every = settings_from_env({**BASE, "CASES_BATCH_SIZE": "20", "CASES_BATCH_SIZE_ORDERS": "3"})
    assert [every.batch_size_for(t) for t in ("orders", "messages", "carrier-tracking")] == [
        3, 20, 20]


@pytest.mark.parametrize("name", ["CASES_BATCH_SIZE", "CASES_BATCH_SIZE_PAYMENTS"])
def test_a_batch_size_below_one_is_a_clear_error(name):
    with pytest.raises(ConfigurationError, match=f"{name} must be at least 1"):
        settings_from_env({**BASE, name: "0"})


def test_event_time_settings_have_defaults_and_can_be_set():
    default = settings_from_env(BASE)
    assert default.allowed_lateness == dt.timedelta(seconds=10)
    assert default.clock_skew == dt.timedelta(seconds=5)
    assert default.http_port is None
    env = {**BASE, "CASES_ALLOWED_LATENESS": "2m", "CASES_CLOCK_SKEW_TOLERANCE": "1.5s",
           "CASES_HTTP_PORT": "8080"}
    settings = settings_from_env(env)
    assert settings.allowed_lateness == dt.timedelta(minutes=2)
    assert settings.clock_skew == dt.timedelta(seconds=1.5)
    assert settings.http_port == 8080
    with pytest.raises(ConfigurationError, match="not a duration"):
        settings_from_env({**BASE, "CASES_ALLOWED_LATENESS": "soon"})
