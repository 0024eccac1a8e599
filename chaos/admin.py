"""One Kafka AdminClient per broker for the whole chaos run, never destroyed.

Destroying an AdminClient that lived through a broker restart hung for good in a chaos
run: the client became garbage inside an exception's traceback cycle, a garbage
collection pass in the publisher thread destroyed it, and librdkafka's destroy waited
forever for one of its broker threads. So every part of the harness shares one client
per bootstrap address, kept referenced here until the process ends (`chaos.run` leaves
with os._exit, so no finaliser destroys it either).
"""

from __future__ import annotations

import threading

from confluent_kafka.admin import AdminClient

from configuration import Settings

_clients: dict[str, AdminClient] = {}
_lock = threading.Lock()


def admin_client(settings: Settings) -> AdminClient:
    with _lock:
        client = _clients.get(settings.kafka_bootstrap_servers)
        if client is None:
            client = _clients[settings.kafka_bootstrap_servers] = AdminClient(settings.kafka())
        return client
