"""One run of the workload on fresh services: start them and the component processes,
publish at a steady rate (injecting the planned faults meanwhile, if any), drain, sweep
as of a fixed time, drain again, and read back what the run left behind.
"""

from __future__ import annotations

import gc
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from chaos import snapshot
from chaos.causal import CausalFeed
from chaos.commands import cases
from chaos.drain import wait_drained, wait_groups_ready
from chaos.faults import Fault, FaultLog
from chaos.fleet import CHAOS_INSTANCES, Fleet
from chaos.inject import FaultRunner, sweep_killing_the_relay
from chaos.logs import batch_totals
from chaos.services import LocalServices
from chaos.stalls import StallWatch
from configuration import Settings, settings_from_env
from schemas import INBOUND_TOPICS
from workload.generator import Published
from workload.publish import publish


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@dataclass
class Trial:
    label: str
    items: list[Published]
    #: `cases sweep --now` after the first drain: far after the workload, the same in
    #: every run, so the time rules fire identically
    sweep_at: str
    state_dir: Path
    log_dir: Path
    #: records per second while publishing (None: as fast as the broker takes them)
    rate: float | None
    faults: list[Fault] | None = None
    #: hold each record back until its order's previous record was applied
    #: (`chaos/causal.py`); False publishes in plain order at the steady rate
    causal: bool = True
    #: seconds the broker and the database stay down between their stop and start
    outage_hold: float = 8.0
    drain_timeout: float = 900.0
    stable: float = 5.0


@dataclass
class TrialResult:
    label: str
    timings: dict[str, float] = field(default_factory=dict)
    published: int = 0
    drained: bool = False
    snapshot: snapshot.Snapshot | None = None
    fault_log: FaultLog | None = None
    unexpected_exits: list[tuple[str, int, str]] = field(default_factory=list)
    error: str | None = None
    feed: CausalFeed | None = None
    #: per inbound topic, the longest time its group sat still with records waiting
    stalls: dict[str, float] = field(default_factory=dict)
    #: summed over the consumers' batch reports (chaos/logs.py)
    batches: dict[str, int] = field(default_factory=dict)


@contextmanager
def _phase(result: TrialResult, name: str) -> Iterator[None]:
    say(f"[{result.label}] {name} ...")
    started = time.monotonic()
    try:
        yield
    finally:
        result.timings[name] = time.monotonic() - started
        say(f"[{result.label}] {name}: {result.timings[name]:.1f}s")


class _Publisher(threading.Thread):
    def __init__(self, settings: Settings, items: Iterable[Published],
                 rate: float | None) -> None:
        super().__init__(name="publisher", daemon=True)
        self.settings, self.items, self.rate = settings, items, rate
        self.count = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.count = publish(self.settings, self.items, rate=self.rate)
        except BaseException as exc:  # reported by the trial, not lost in a thread
            self.error = exc


def _fresh(state_dir: Path) -> LocalServices:
    services = LocalServices(state_dir)
    if state_dir.exists():  # a left-over of an earlier run: stop it, then start afresh
        services.down()
        shutil.rmtree(state_dir)
    return services


def run_trial(trial: Trial, keep: bool = False) -> TrialResult:
    result = TrialResult(trial.label)
    services = _fresh(trial.state_dir)
    if trial.log_dir.exists():
        shutil.rmtree(trial.log_dir)
    fleet: Fleet | None = None
    try:
        with _phase(result, "services up"):
            env = services.up()
            settings = settings_from_env(env)
            cases(env, "setup")
        fleet = Fleet(env, trial.log_dir)
        if trial.faults is not None:
            result.fault_log = FaultLog()
            fleet.on_event = result.fault_log.note
        else:
            fleet.on_event = lambda what: say(f"[{trial.label}] {what}")
        with _phase(result, "components up"):
            fleet.start_all(CHAOS_INSTANCES)
            wait_groups_ready(settings, {c: n for c, n in CHAOS_INSTANCES.items()
                                         if c in INBOUND_TOPICS}, tick=fleet.supervise)
        # No automatic garbage collection from here until the run is read back: a Kafka
        # client that ends up in a reference cycle must not be destroyed by a collection
        # that happens to run in the publisher thread after a broker restart (librdkafka's
        # destroy hung there for good). What is garbage now is collected now.
        gc.collect()
        gc.disable()
        watch = StallWatch(settings)
        watch.start()
        with _phase(result, "publish"):
            result.published = _publish(trial, settings, fleet, services, result)
        tick: Callable[[], None] = fleet.supervise
        with _phase(result, "drain"):
            drained = wait_drained(settings, stable=trial.stable, timeout=trial.drain_timeout,
                                   tick=tick, report=lambda s: say(f"[{trial.label}] {s}"))
        result.stalls = watch.stop()
        if not drained.drained:
            result.error = f"did not drain in {trial.drain_timeout:.0f}s: {drained.last}"
            return result
        with _phase(result, "sweep and drain"):
            if result.fault_log is not None:
                sweep_killing_the_relay(env, trial.sweep_at, fleet, result.fault_log, settings)
            else:
                cases(env, "sweep", "--now", trial.sweep_at)
            drained = wait_drained(settings, stable=trial.stable, timeout=trial.drain_timeout,
                                   tick=tick, report=lambda s: say(f"[{trial.label}] {s}"))
        if not drained.drained:
            result.error = (f"did not drain after the sweep in {trial.drain_timeout:.0f}s: "
                            f"{drained.last}")
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
            services.down()
            if not keep and result.drained:
                shutil.rmtree(trial.state_dir, ignore_errors=True)


def _publish(trial: Trial, settings: Settings, fleet: Fleet, services: LocalServices,
             result: TrialResult) -> int:
    items: Iterable[Published] = trial.items
    if trial.causal:
        result.feed = CausalFeed(trial.items, settings.database_url,
                                 stall_timeout=trial.drain_timeout)
        items = result.feed
    publisher = _Publisher(settings, items, trial.rate)
    runner = None
    if trial.faults is not None and result.fault_log is not None:
        runner = FaultRunner(trial.faults, fleet, services, result.fault_log,
                             trial.outage_hold)
        result.fault_log.started = time.monotonic()
    started = time.monotonic()
    # a publisher that never ends must fail the run, not hang `make chaos`
    deadline = started + (len(trial.items) / trial.rate if trial.rate else 0) \
        + trial.drain_timeout
    publisher.start()
    while publisher.is_alive() or (runner is not None and runner.pending()):
        if time.monotonic() > deadline:
            raise RuntimeError("publishing did not finish in time")
        if runner is not None:
            runner.step(time.monotonic() - started)
            if runner.error is not None:
                raise RuntimeError(f"a planned restart failed: {runner.error}")
        fleet.supervise()
        time.sleep(0.05)
    publisher.join()
    if publisher.error is not None:
        raise RuntimeError(f"publishing failed: {publisher.error!r}") from publisher.error
    if publisher.count != len(trial.items):
        raise RuntimeError(f"published {publisher.count} of {len(trial.items)} records")
    return publisher.count
