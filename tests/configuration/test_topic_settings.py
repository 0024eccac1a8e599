"""What `cases setup` creates topics with: CASES_TOPIC_PARTITIONS and
CASES_TOPIC_REPLICATION_FACTOR (what it does with them: tests/cases_cli/test_preflight.py)."""

import pytest

from configuration import ConfigurationError, settings_from_env

BASE = {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092", "DATABASE_URL": "postgresql://x/y"}


def test_topics_take_the_brokers_defaults_unless_the_deployment_names_its_own():
    default = settings_from_env(BASE)
    assert (default.topic_partitions, default.topic_replication_factor) == (-1, -1)
    named = settings_from_env({**BASE, "CASES_TOPIC_PARTITIONS": "12",
                               "CASES_TOPIC_REPLICATION_FACTOR": "3"})
    assert (named.topic_partitions, named.topic_replication_factor) == (12, 3)
    assert "topic_partitions=12" in repr(named)


@pytest.mark.parametrize("value", ["0", "-2", "three"])
def test_a_topic_layout_that_is_not_a_positive_number_is_a_clear_error(value):
    with pytest.raises(ConfigurationError, match="CASES_TOPIC_REPLICATION_FACTOR must be"):
        settings_from_env({**BASE, "CASES_TOPIC_REPLICATION_FACTOR": value})
