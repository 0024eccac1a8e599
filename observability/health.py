"""Liveness and readiness, kept as metrics (`order_cases_heartbeat_timestamp_seconds`,
`order_cases_ready`), so that a supervisor running components in processes of their own
answers for all of them from what they write (prometheus_client's multiprocess mode).

- Alive: each component's loop has gone round within LIVENESS_SECONDS (a component that
  has not started its loop yet counts as alive for STARTUP_SECONDS: it may be waiting for
  its services).
- Ready: each component says it is (a consumer: subscribed, and not waiting for the
  database longer than READINESS_RETRY_SECONDS; the sweeper and the relay: connected to
  the database, leading or standing by).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client.registry import CollectorRegistry

from observability import metrics

LIVENESS_SECONDS = 60.0
STARTUP_SECONDS = 300.0
#: a consumer waiting this long for PostgreSQL is not ready
READINESS_RETRY_SECONDS = 10.0


class Health:
    """What one component says of itself."""

    def __init__(self, component: str) -> None:
        self.component = component
        self._ready = metrics.READY.labels(component)
        self._beat = metrics.HEARTBEAT.labels(component)
        self._retries = metrics.DATABASE_RETRIES.labels(component)
        self._ready.set(0)
        self._waiting_since: float | None = None

    def beat(self) -> None:
        self._beat.set(time.time())

    def ready(self, ready: bool = True) -> None:
        self._ready.set(1 if ready else 0)

    def waiting_for_database(self) -> None:
        """One more wait for PostgreSQL: not ready once the waits last too long."""
        self.beat()
        self._retries.inc()
        now = time.monotonic()
        if self._waiting_since is None:
            self._waiting_since = now
        if now - self._waiting_since >= READINESS_RETRY_SECONDS:
            self.ready(False)

    def database_back(self) -> None:
        self._waiting_since = None
        self.ready(True)


@dataclass(frozen=True)
class Status:
    component: str
    ready: bool
    #: seconds since its loop last went round (None: not started)
    silent_for: float | None


def statuses(registry: CollectorRegistry, components: Iterable[str]) -> list[Status]:
    ready: dict[str, float] = {}
    beats: dict[str, float] = {}
    for family in registry.collect():
        for sample in family.samples:
            component = sample.labels.get("component")
            if component is None:
                continue
            if sample.name == metrics.READY._name:
                ready[component] = max(ready.get(component, 0.0), sample.value)
            elif sample.name == metrics.HEARTBEAT._name:
                beats[component] = max(beats.get(component, 0.0), sample.value)
    now = time.time()
    return [Status(c, ready.get(c, 0.0) >= 1, now - beats[c] if beats.get(c) else None)
            for c in components]


def alive(found: list[Status], running_for: float) -> bool:
    return all(s.silent_for < LIVENESS_SECONDS if s.silent_for is not None
               else running_for < STARTUP_SECONDS for s in found)


def ready(found: list[Status]) -> bool:
    return all(s.ready and s.silent_for is not None and s.silent_for < LIVENESS_SECONDS
               for s in found)
