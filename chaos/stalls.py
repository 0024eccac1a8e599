"""How long each consumer group sat still with work waiting: sampled once a second while
a run's fleet drains the backlog.

A group stalls when records wait (lag > 0) and its committed offsets do not move while
the broker is up: a killed member whose partitions the coordinator has not yet taken
back, a rebalance, a database outage, the recovery after a broker outage. Drains hide
stalls (they only wait longer), so this is how a stuck consumer shows in the figures.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from confluent_kafka import KafkaException

from bootstrap.kafka import consumer_group
from chaos.offsets import OffsetProbe
from configuration import Settings
from schemas import INBOUND_TOPICS


@dataclass
class _Group:
    committed: int = -1
    stalled_since: float | None = None
    longest: float = 0.0


@dataclass
class StallWatch:
    settings: Settings
    interval: float = 1.0
    groups: dict[str, _Group] = field(default_factory=lambda: {t: _Group()
                                                               for t in INBOUND_TOPICS})

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stall-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> dict[str, float]:
        """Stop sampling; the longest stall of each group, in seconds."""
        self._stop.set()
        self._thread.join()
        self._end_stalls()
        return {topic: round(g.longest, 1) for topic, g in self.groups.items()}

    def _end_stalls(self) -> None:
        now = time.monotonic()
        for group in self.groups.values():
            if group.stalled_since is not None:
                group.longest = max(group.longest, now - group.stalled_since)
            group.stalled_since = None

    def _run(self) -> None:
        probe = OffsetProbe(self.settings)
        try:
            while not self._stop.wait(self.interval):
                self._sample(probe)
        finally:
            probe.close()

    def _sample(self, probe: OffsetProbe) -> None:
        try:
            probe.partitions(next(iter(self.groups)), timeout=1)
        except KafkaException:
            # the broker is away: nothing can move, and that is the outage, not a stuck
            # consumer; what counts is how long groups take once it is back
            self._end_stalls()
            return
        for topic, group in self.groups.items():
            try:
                ends = probe.end_offsets(topic, timeout=2)
                committed = probe.committed(consumer_group(topic), topic, timeout=2)
            except KafkaException:
                continue
            done = sum(committed.get(p, 0) for p in ends)
            lag = sum(max(0, end - committed.get(p, 0)) for p, end in ends.items())
            now = time.monotonic()
            if lag > 0 and done == group.committed:
                group.stalled_since = group.stalled_since or now
            else:
                if group.stalled_since is not None:
                    group.longest = max(group.longest, now - group.stalled_since)
                group.stalled_since = None
            group.committed = done
