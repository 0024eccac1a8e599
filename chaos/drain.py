"""When is a run finished: every consumer group has committed the end of its topic and
the outbox has nothing left to publish, and that stays so for a few seconds.

Offsets are committed in the background (once a second) after the database commit, so
"committed = end" means every record was applied *and* its offset acknowledged; a
consumer stuck anywhere shows up as lag that never reaches zero.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg
from confluent_kafka import (
    ConsumerGroupState,
    KafkaException,
)
from confluent_kafka.admin import AdminClient

from bootstrap.kafka import consumer_group
from chaos.offsets import OffsetProbe
from configuration import Settings
from schemas import INBOUND_TOPICS


@dataclass
class Progress:
    #: per inbound topic: records not yet committed by its group (None: not readable now)
    lag: dict[str, int | None] = field(default_factory=dict)
    #: case_events rows with published_at IS NULL (None: database not reachable now)
    unpublished: int | None = None
    #: why a figure above is None
    errors: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.unpublished == 0 and all(v == 0 for v in self.lag.values())

    def __str__(self) -> str:
        lags = ", ".join(f"{t}={v}" for t, v in self.lag.items())
        errors = f" ({'; '.join(sorted(set(self.errors)))[:300]})" if self.errors else ""
        return f"lag {lags}; unpublished {self.unpublished}{errors}"


def group_lag(probe: OffsetProbe, topic: str) -> int:
    ends = probe.end_offsets(topic)
    committed = probe.committed(consumer_group(topic), topic)
    return sum(max(0, end - committed.get(p, 0)) for p, end in ends.items())


def unpublished_rows(database_url: str) -> int:
    with psycopg.connect(database_url, autocommit=True, connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT count(*) FROM case_events WHERE published_at IS NULL").fetchone()
    assert row is not None
    return int(row[0])


def progress(probe: OffsetProbe, settings: Settings) -> Progress:
    state = Progress()
    for topic in INBOUND_TOPICS:
        try:
            state.lag[topic] = group_lag(probe, topic)
        except KafkaException as exc:
            state.lag[topic] = None
            state.errors.append(str(exc.args[0]) if exc.args else repr(exc))
    try:
        state.unpublished = unpublished_rows(settings.database_url)
    except psycopg.OperationalError as exc:
        state.unpublished = None
        state.errors.append(type(exc).__name__)
    return state


@dataclass
class DrainResult:
    drained: bool
    seconds: float
    last: Progress


def wait_drained(settings: Settings, *, stable: float = 5.0, timeout: float = 900.0,
                 tick: Callable[[], None] | None = None,
                 report: Callable[[str], None] | None = None) -> DrainResult:
    """Poll until `progress` has been done for `stable` seconds in a row (True), or
    `timeout` passed (False). `tick` runs between polls (the fleet's supervision)."""
    probe = OffsetProbe(settings)
    try:
        return _poll_until_drained(probe, settings, stable, timeout, tick, report)
    finally:
        probe.close()


def _poll_until_drained(probe: OffsetProbe, settings: Settings, stable: float,
                        timeout: float, tick: Callable[[], None] | None,
                        report: Callable[[str], None] | None) -> DrainResult:
    started = time.monotonic()
    done_since: float | None = None
    last_report = started
    while True:
        if tick is not None:
            tick()
        state = progress(probe, settings)
        now = time.monotonic()
        if state.done:
            done_since = done_since if done_since is not None else now
            if now - done_since >= stable:
                return DrainResult(True, now - started, state)
        else:
            done_since = None
        if now - started >= timeout:
            return DrainResult(False, now - started, state)
        if report is not None and now - last_report >= 15:
            report(f"draining for {now - started:.0f}s: {state}")
            last_report = now
        time.sleep(1.0)


def wait_groups_ready(settings: Settings, members: dict[str, int], *,
                      timeout: float = 120.0, tick: Callable[[], None] | None = None) -> float:
    """Wait until each inbound topic's group is stable with `members[topic]` members, so
    publishing starts on running consumers rather than on their start-up; return the
    seconds it took (raises TimeoutError). Runs before any fault (see chaos/offsets.py):
    its admin client is gone, destroyed in this thread, when it returns."""
    groups = {consumer_group(topic): count for topic, count in members.items()}
    started = time.monotonic()
    while True:
        if tick is not None:
            tick()
        if _groups_ready(settings, groups):
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"consumer groups not ready after {timeout:.0f}s")
        time.sleep(0.5)


def _groups_ready(settings: Settings, groups: dict[str, int]) -> bool:
    admin = AdminClient(settings.kafka())
    futures = admin.describe_consumer_groups(list(groups), request_timeout=5)
    try:
        described = {group: f.result() for group, f in futures.items()}
    except KafkaException:
        return False
    finally:
        # a failed future holds its exception, whose traceback holds this frame: drop
        # the futures so no reference cycle keeps the admin client for a later garbage
        # collection (in whatever thread, after a broker restart, where destroying it hung)
        futures.clear()
    return all(d.state == ConsumerGroupState.STABLE and len(d.members) == groups[g]
               for g, d in described.items())
