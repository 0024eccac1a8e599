"""Create the topics this service reads and writes (for local runs and tests; in
production the inbound topics belong to their producers)."""

from __future__ import annotations

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from configuration import Settings
from schemas import CASE_EVENTS_TOPIC, INBOUND_TOPICS, dlq_topic


def all_topics() -> list[str]:
    return [*INBOUND_TOPICS, *(dlq_topic(t) for t in INBOUND_TOPICS), CASE_EVENTS_TOPIC]


def create_topics(settings: Settings, partitions: int = 4, timeout: float = 30.0) -> list[str]:
    """Create whichever topics are missing; return their names."""
    admin = AdminClient(settings.kafka())
    existing = set(admin.list_topics(timeout=timeout).topics)
    missing = [t for t in all_topics() if t not in existing]
    if not missing:
        return []
    futures = admin.create_topics(
        [NewTopic(t, num_partitions=partitions, replication_factor=1) for t in missing],
        operation_timeout=timeout)
    for future in futures.values():
        try:
            future.result()
        except KafkaException as exc:
            if exc.args[0].code() != exc.args[0].TOPIC_ALREADY_EXISTS:
                raise
    return missing
