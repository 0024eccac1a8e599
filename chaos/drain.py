"""When is a run finished: the fleet has stored, decided and published everything, and
that stays so for a few seconds.

Drained means, all at once:
- every inbound consumer group has committed the end of its topic (offsets are
  committed in the background after the database commit, so "committed = end" means
  every record was stored *and* its offset acknowledged; a consumer stuck anywhere shows
  up as lag that never reaches zero);
- the sweeper's low watermark is within `WATERMARK_SLACK` of the wall clock less the
  allowed lateness (every partition caught up: nothing holds it back any more);
- nothing behind the watermark is left undecided: no stored record, no carrier report,
  no time rule due (`orders.due_at`);
- the outbox has nothing left to publish;
- no dead letter beyond what the workload makes (the seeded workload makes none): a
  dead letter fails the drain at once, since waiting cannot take it back.

The figures are read in a thread of their own (a read may wait seconds while the broker
or the database is away), while the caller's thread goes on with its ticks: the fleet's
supervision and the planned faults, which must not wait for a slow read.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg
from confluent_kafka import KafkaException

from bootstrap.kafka import consumer_group
from chaos.offsets import OffsetProbe
from configuration import Settings
from schemas import INBOUND_TOPICS, dlq_topic

#: how far behind the wall clock less the allowed lateness a drained watermark may be
#: (the sweeper measures it every CASES_SWEEP_INTERVAL_SECONDS, a pass takes a moment)
WATERMARK_SLACK = dt.timedelta(seconds=5)
#: seconds between two readings of the figures
INTERVAL = 1.0

#: everything `Progress` reads from PostgreSQL, in one statement
DATABASE_FIGURES = """
SELECT w.low, now(),
  (SELECT count(*) FROM undecided_records WHERE occurred_at <= w.low),
  (SELECT count(*) FROM undecided_reports WHERE occurred_at <= w.low),
  (SELECT count(*) FROM orders WHERE due_at <= w.low),
  (SELECT count(*) FROM unpublished_case_events),
  (SELECT count(*) FROM dead_letter_outbox WHERE published_at IS NULL)
FROM (SELECT (SELECT low FROM watermark) AS low) AS w
"""


@dataclass
class Progress:
    #: per inbound topic: records not yet committed by its group (None: not readable now)
    lag: dict[str, int | None] = field(default_factory=dict)
    #: how far the watermark is behind the wall clock less the allowed lateness, in
    #: seconds (None: no watermark yet, or the database not reachable now)
    watermark_behind: float | None = None
    #: behind the watermark and not decided: records, carrier reports, time rules due
    undecided: int | None = None
    #: case events the relay has still to publish
    unpublished: int | None = None
    #: records on the dead-letter topics and dead letters the relay has still to send
    dead_letters: int | None = None
    #: why a figure above is None
    errors: list[str] = field(default_factory=list)

    def done(self, expected_dead_letters: int = 0) -> bool:
        return (all(v == 0 for v in self.lag.values()) and bool(self.lag)
                and self.watermark_behind is not None
                and self.watermark_behind <= WATERMARK_SLACK.total_seconds()
                and self.undecided == 0 and self.unpublished == 0
                and self.dead_letters == expected_dead_letters)

    def __str__(self) -> str:
        lags = ", ".join(f"{t}={v}" for t, v in self.lag.items())
        behind = ("-" if self.watermark_behind is None
                  else f"{self.watermark_behind:.0f}s")
        errors = f" ({'; '.join(sorted(set(self.errors)))[:300]})" if self.errors else ""
        return (f"lag {lags}; watermark behind {behind}; undecided {self.undecided}; "
                f"unpublished {self.unpublished}; dead letters {self.dead_letters}{errors}")


def group_lag(probe: OffsetProbe, topic: str) -> int:
    ends = probe.end_offsets(topic)
    committed = probe.committed(consumer_group(topic), topic)
    return sum(max(0, end - committed.get(p, 0)) for p, end in ends.items())


def dead_letter_records(probe: OffsetProbe) -> int:
    total = 0
    for topic in INBOUND_TOPICS:
        dlq = dlq_topic(topic)
        starts, ends = probe.start_offsets(dlq), probe.end_offsets(dlq)
        total += sum(end - starts.get(p, 0) for p, end in ends.items())
    return total


def read_database(state: Progress, settings: Settings) -> int | None:
    """The watermark, what is undecided behind it and the outbox, into `state` (left
    None when PostgreSQL is away); the dead letters the relay has still to send."""
    try:
        with psycopg.connect(settings.database_url, autocommit=True,
                             connect_timeout=5) as conn:
            row = conn.execute(DATABASE_FIGURES).fetchone()
    except psycopg.OperationalError as exc:
        state.errors.append(type(exc).__name__)
        return None
    assert row is not None
    low, now, records, reports, due, unpublished, unsent_dead_letters = row
    if low is not None:
        ceiling = now - settings.allowed_lateness
        state.watermark_behind = max(0.0, (ceiling - low).total_seconds())
        state.undecided = int(records) + int(reports) + int(due)
    state.unpublished = int(unpublished)
    return int(unsent_dead_letters)


def progress(probe: OffsetProbe, settings: Settings) -> Progress:
    state = Progress()
    for topic in INBOUND_TOPICS:
        try:
            state.lag[topic] = group_lag(probe, topic)
        except KafkaException as exc:
            state.lag[topic] = None
            state.errors.append(str(exc.args[0]) if exc.args else repr(exc))
    unsent_dead_letters = read_database(state, settings)
    if unsent_dead_letters is not None:
        try:
            state.dead_letters = dead_letter_records(probe) + unsent_dead_letters
        except KafkaException as exc:
            state.errors.append(str(exc.args[0]) if exc.args else repr(exc))
    return state


class DrainWatch:
    """Reads `progress` every INTERVAL seconds in a thread of its own (its Kafka clients
    are made, used and closed there); `latest` is the last reading and `done_since` when
    the readings began to say done without a break (None: the last one did not)."""

    def __init__(self, settings: Settings, expected_dead_letters: int = 0) -> None:
        self.settings = settings
        self.expected_dead_letters = expected_dead_letters
        self.latest: Progress | None = None
        self.done_since: float | None = None
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="drain-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            probe = OffsetProbe(self.settings)
            try:
                while not self._stop.is_set():
                    state = progress(probe, self.settings)
                    if state.done(self.expected_dead_letters):
                        self.done_since = self.done_since or time.monotonic()
                    else:
                        self.done_since = None
                    self.latest = state
                    self._stop.wait(INTERVAL)
            finally:
                probe.close()
        except BaseException as exc:  # reported by the caller, not lost in a thread
            self.error = exc


@dataclass
class DrainResult:
    drained: bool
    #: from the start of the wait until the readings began to say done for good
    seconds: float
    last: Progress | None
    why: str = ""


def wait_drained(settings: Settings, *, stable: float = 5.0, timeout: float = 900.0,
                 tick: Callable[[], None] | None = None,
                 busy: Callable[[], bool] | None = None,
                 report: Callable[[str], None] | None = None,
                 expected_dead_letters: int = 0) -> DrainResult:
    """Wait until the readings have said done for `stable` seconds in a row, counted
    from the last moment `busy()` said True (faults still to come). `tick` runs every
    few milliseconds in this thread (the fleet's supervision, the faults)."""
    watch = DrainWatch(settings, expected_dead_letters)
    watch.start()
    started = last_report = busy_until = time.monotonic()
    try:
        while True:
            if tick is not None:
                tick()
            now = time.monotonic()
            if busy is not None and busy():
                busy_until = now
            state, done_since = watch.latest, watch.done_since
            if watch.error is not None:
                raise RuntimeError(f"reading the drain's figures failed: {watch.error!r}"
                                   ) from watch.error
            if done_since is not None and now - max(done_since, busy_until) >= stable:
                return DrainResult(True, max(done_since, busy_until) - started, state)
            if (state is not None and state.dead_letters is not None
                    and state.dead_letters > expected_dead_letters):
                return DrainResult(False, now - started, state,
                                   f"{state.dead_letters} dead letter(s); the workload makes "
                                   f"{expected_dead_letters}")
            if now - started >= timeout:
                return DrainResult(False, now - started, state,
                                   f"not drained after {timeout:.0f}s")
            if report is not None and now - last_report >= 15:
                report(f"draining for {now - started:.0f}s: {state}")
                last_report = now
            time.sleep(0.05)
    finally:
        watch.stop()
