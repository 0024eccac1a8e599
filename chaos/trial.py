"""One run of the workload on fresh services: start them, publish the whole workload
(chaos/backlog.py), start the component processes and let them drain it (injecting the
planned faults meanwhile, if any), sweep as of a fixed time, drain again, and read back
what the run left behind.
"""

from __future__ import annotations

import dataclasses
import gc
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from chaos import snapshot
from chaos.commands import cases
from chaos.drain import DrainResult, wait_drained
from chaos.faults import Fault, FaultLog
from chaos.fleet import CHAOS_INSTANCES, Fleet
from chaos.inject import FaultRunner, sweep_killing_the_relay
from chaos.logs import batch_totals, sweeper_totals
from chaos.progress import Pace, Work, WorkWatch, read_work
from chaos.services import LocalServices
from chaos.stalls import StallWatch
from configuration import Settings, settings_from_env
from workload.generator import Published
from workload.publish import publish

#: records per record batch the backlog is published in (`_in_small_batches`)
PUBLISH_BATCH = 100
#: how far the drain's clock may fall behind the wall clock (`_drain_clock`), seconds
MAX_LAG = 120.0


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@dataclass
class Trial:
    label: str
    #: the workload in publish order (chaos/backlog.py)
    items: list[Published]
    #: `cases sweep --now` after the first drain: far after the workload, the same in
    #: every run, so the time rules fire identically
    sweep_at: str
    state_dir: Path
    log_dir: Path
    #: settings every component process gets on top of the services' addresses
    #: (`chaos/run.py`, FLEET_SETTINGS), the same in every run
    settings: dict[str, str] = field(default_factory=dict)
    #: on the drain's clock (None: no faults)
    faults: list[Fault] | None = None
    #: the baseline's progress against time, and what its drain came to: the drain's
    #: clock for the faults (`chaos/progress.py`); None: the wall clock
    pace: Pace | None = None
    total_work: Work | None = None
    #: seconds the broker and the database stay down between their stop and start
    outage_hold: float = 8.0
    #: a publish the broker keeps waiting this long fails the run
    publish_timeout: float = 120.0
    drain_timeout: float = 900.0
    stable: float = 5.0


@dataclass
class TrialResult:
    label: str
    timings: dict[str, float] = field(default_factory=dict)
    published: int = 0
    drained: bool = False
    #: from the fleet's start until the backlog was drained (what the faults are
    #: spread over in the chaos run)
    drain_seconds: float | None = None
    snapshot: snapshot.Snapshot | None = None
    fault_log: FaultLog | None = None
    unexpected_exits: list[tuple[str, int, str]] = field(default_factory=list)
    error: str | None = None
    #: per inbound topic, the longest time its group sat still with records waiting
    stalls: dict[str, float] = field(default_factory=dict)
    #: summed over the consumers' batch reports (chaos/logs.py)
    batches: dict[str, int] = field(default_factory=dict)
    #: summed over the sweepers' passes (chaos/logs.py)
    sweeps: dict[str, int] = field(default_factory=dict)
    #: the backlog's drain: (seconds since the fleet started, work done), and in all
    work: list[tuple[float, Work]] = field(default_factory=list)
    total_work: Work | None = None


@contextmanager
def _phase(result: TrialResult, name: str) -> Iterator[None]:
    say(f"[{result.label}] {name} ...")
    started = time.monotonic()
    try:
        yield
    finally:
        result.timings[name] = time.monotonic() - started
        say(f"[{result.label}] {name}: {result.timings[name]:.1f}s")


def _fresh(state_dir: Path) -> LocalServices:
    services = LocalServices(state_dir)
    if state_dir.exists():  # a left-over of an earlier run: stop it, then start afresh
        services.down()
        shutil.rmtree(state_dir)
    return services


def _drain_clock(trial: Trial, work: WorkWatch) -> Callable[[float], float]:
    """Seconds since the fleet started in, seconds of the drain out: how far into its
    drain the baseline was when it had done the work this run has done. Never ahead of
    the wall clock (while neither has begun, they keep time alike), nor more than
    MAX_LAG behind it (a run whose work stops short of the baseline's still gets all
    its faults, and then fails on its figures rather than waiting for them)."""
    pace, total = trial.pace, trial.total_work
    if pace is None or total is None:
        return lambda elapsed: elapsed
    return lambda elapsed: min(elapsed, max(elapsed - MAX_LAG,
                                            pace.seconds_at(work.latest.fraction(total))))


def _in_small_batches(settings: Settings) -> Settings:
    """The publisher's settings: record batches of PUBLISH_BATCH records at most. A fetch
    returns at least one whole batch, so with batches of the whole partition (what a
    backlog produced at full speed makes) a consumer would read its partitions one after
    another; small ones let it take them in turns (with a small enough
    max.partition.fetch.bytes: `chaos/run.py`, FLEET_SETTINGS)."""
    return dataclasses.replace(settings, kafka_extra={
        **settings.kafka_extra, "batch.num.messages": PUBLISH_BATCH})


def run_trial(trial: Trial, keep: bool = False) -> TrialResult:
    result = TrialResult(trial.label)
    services = _fresh(trial.state_dir)
    if trial.log_dir.exists():
        shutil.rmtree(trial.log_dir)
    fleet: Fleet | None = None
    try:
        with _phase(result, "services up"):
            addresses = services.up()
            # the harness's own clients (publisher, probes, read-back) go without the
            # fleet's settings, which tune the service's consumers
            settings = settings_from_env(addresses)
            env = {**addresses, **trial.settings}
            cases(env, "setup")
        with _phase(result, "publish backlog"):
            result.published = publish(_in_small_batches(settings), trial.items,
                                       timeout=trial.publish_timeout)
        if result.published != len(trial.items):
            raise RuntimeError(f"published {result.published} of {len(trial.items)} records")
        fleet = Fleet(env, trial.log_dir)
        # No automatic garbage collection from here until the run is read back: a Kafka
        # client that ends up in a reference cycle must not be destroyed by a collection
        # that happens to run in another thread after a broker restart (librdkafka's
        # destroy hung there for good). What is garbage now is collected now.
        gc.collect()
        gc.disable()
        with _phase(result, "drain backlog"):
            drained = _drain_backlog(trial, fleet, services, settings, result)
        if not drained.drained:
            result.error = f"the backlog did not drain: {drained.why}: {drained.last}"
            return result
        with _phase(result, "sweep and drain"):
            if result.fault_log is not None:
                sweep_killing_the_relay(env, trial.sweep_at, fleet, result.fault_log, settings)
            else:
                cases(env, "sweep", "--now", trial.sweep_at)
            drained = wait_drained(settings, stable=trial.stable, timeout=trial.drain_timeout,
                                   tick=fleet.supervise,
                                   report=lambda s: say(f"[{trial.label}] {s}"))
        if not drained.drained:
            result.error = f"did not drain after the sweep: {drained.why}: {drained.last}"
            return result
        result.drained = True
        with _phase(result, "read back"):
            result.snapshot = snapshot.take(settings)
        return result
    except Exception as exc:  # the figures still print, with the run marked failed
        result.error = f"{type(exc).__name__}: {exc}"
        return result
    finally:
        gc.enable()
        with _phase(result, "stop"):
            if fleet is not None:
                fleet.stop_all()
                result.unexpected_exits = list(fleet.unexpected_exits)
                result.batches = batch_totals(trial.log_dir)
                result.sweeps = sweeper_totals(trial.log_dir)
            services.down()
            if not keep and result.drained:
                shutil.rmtree(trial.state_dir, ignore_errors=True)


def _drain_backlog(trial: Trial, fleet: Fleet, services: LocalServices, settings: Settings,
                   result: TrialResult) -> DrainResult:
    """Start the fleet on the published backlog and wait until it is drained, carrying
    out the planned faults meanwhile (on the drain's clock, `_drain_clock`), and
    recording the work done against time (the baseline's makes the chaos run's clock)."""
    runner: FaultRunner | None = None
    if trial.faults is not None:
        result.fault_log = FaultLog()
        fleet.on_event = result.fault_log.note
    else:
        fleet.on_event = lambda what: say(f"[{trial.label}] {what}")
    started = time.monotonic()
    fleet.start_all(CHAOS_INSTANCES)
    work = WorkWatch(settings.database_url, started=started)
    work.start()
    if trial.faults is not None and result.fault_log is not None:
        result.fault_log.started = started
        runner = FaultRunner(trial.faults, fleet, services, result.fault_log,
                             trial.outage_hold, started=started,
                             clock=_drain_clock(trial, work))
    watch = StallWatch(settings)
    watch.start()

    def tick() -> None:
        if runner is not None:
            runner.step()
            if runner.error is not None:
                raise RuntimeError(f"a planned restart failed: {runner.error}")
        fleet.supervise()

    waiting = time.monotonic()
    try:
        drained = wait_drained(settings, stable=trial.stable, timeout=trial.drain_timeout,
                               tick=tick, busy=runner.pending if runner else None,
                               report=lambda s: say(f"[{trial.label}] {s}"))
    finally:
        result.stalls = watch.stop()
        result.work = work.stop()
    if drained.drained:
        result.drain_seconds = waiting - started + drained.seconds
        result.total_work = read_work(settings.database_url)
    return drained
