"""Kafka AdminClients for the harness, never destroyed while it runs.

Destroying an AdminClient that lived through a broker restart hung for good in a chaos
run: the client became garbage inside an exception's traceback cycle, a garbage
collection pass in the publisher thread destroyed it, and librdkafka's destroy waited
forever for one of its broker threads. Sharing one client per broker instead made the
drain's every request fail after the restart (a fresh client answered at once). So each
part of the harness gets a client of its own, as before, and every client is kept
referenced here until the process ends (`chaos.run` leaves with os._exit, so no
finaliser destroys one either); a run makes a handful.
"""

from __future__ import annotations

import threading

from confluent_kafka.admin import AdminClient

from configuration import Settings

_kept: list[AdminClient] = []
_lock = threading.Lock()


def admin_client(settings: Settings) -> AdminClient:
    client = AdminClient(settings.kafka())
    with _lock:
        _kept.append(client)
    return client
