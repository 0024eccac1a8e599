"""One run of the workload on fresh services: start them and the component processes,
publish at a steady rate (injecting the planned faults meanwhile, if any), drain, sweep
as of a fixed time, drain again, and read back what the run left behind.
"""

from __future__ import annotations

import heapq
import itertools
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from confluent_kafka.admin import AdminClient

from chaos import snapshot
from chaos.causal import CausalFeed
from chaos.drain import end_offsets, wait_drained, wait_groups_ready
from chaos.faults import Fault, FaultLog
from chaos.fleet import CASES, CHAOS_INSTANCES, Fleet, Instance
from chaos.logs import batch_totals
from chaos.services import LocalServices
from chaos.stalls import StallWatch
from configuration import Settings, settings_from_env
from schemas import CASE_EVENTS_TOPIC, INBOUND_TOPICS
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


def _cases(env: dict[str, str], *args: str, timeout: float = 300) -> None:
    done = subprocess.run([str(CASES), "--log-level", "WARNING", *args],
                          env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"cases {' '.join(args)} failed: {done.stderr.strip()[-2000:]}")


class _FaultRunner:
    """Carries out the plan against the fleet and the services, on the clock of the
    publisher's start; a killed instance is restarted `down_for` seconds later."""

    def __init__(self, plan: list[Fault], fleet: Fleet, services: LocalServices,
                 log: FaultLog, outage_hold: float) -> None:
        self.fleet, self.services, self.log = fleet, services, log
        self.order = itertools.count()
        self.queue: list[tuple[float, int, Fault]] = [(f.at, next(self.order), f) for f in plan]
        heapq.heapify(self.queue)
        self.by_name: dict[str, Instance] = {i.name: i for i in fleet.instances}
        self.outages: list[threading.Thread] = []
        self.outage_hold = outage_hold
        self.error: Exception | None = None

    def pending(self) -> bool:
        return bool(self.queue) or any(o.is_alive() for o in self.outages)

    def _outage(self, kind: str) -> None:
        name = "Kafka broker" if kind == "kafka" else "PostgreSQL"
        self.log.note(f"{name}: stop")
        started = time.monotonic()
        try:
            if kind == "kafka":
                self.services.restart_kafka(self.outage_hold)
                self.log.broker_restarts += 1
            else:
                self.services.restart_postgres(self.outage_hold)
                self.log.postgres_restarts += 1
        except Exception as exc:  # reported by the trial: the run cannot go on
            self.error = exc
            self.log.note(f"{name}: restart FAILED: {exc}")
            return
        self.log.note(f"{name}: started again, same address "
                      f"({time.monotonic() - started:.1f}s after the stop began)")

    def step(self, elapsed: float) -> None:
        while self.queue and self.queue[0][0] <= elapsed:
            _, _, fault = heapq.heappop(self.queue)
            self._do(fault, elapsed)

    def _do(self, fault: Fault, elapsed: float) -> None:
        if fault.kind == "kill":
            instance = self.by_name[fault.target]
            if not instance.running():  # exited on its own meanwhile; the fleet restarts it
                self.log.note(f"SIGKILL {instance.name} skipped: not running")
                return
            pid = instance.pid
            self.fleet.kill(instance)
            self.log.killed(instance.name)
            self.log.note(f"SIGKILL {instance.name} (pid {pid}); restart in "
                          f"{fault.down_for:.1f}s")
            restart = Fault(elapsed + fault.down_for, "restart", fault.target)
            heapq.heappush(self.queue, (restart.at, next(self.order), restart))
        elif fault.kind == "restart":
            instance = self.by_name[fault.target]
            self.fleet.start(instance)
            self.log.note(f"started {instance.name} again (pid {instance.pid})")
        elif fault.kind in ("kafka", "postgres"):
            # in a thread: kills and restarts go on during the outage, so instances also
            # start while the broker or the database is away
            outage = threading.Thread(target=self._outage, args=(fault.kind,),
                                      name=f"{fault.kind}-outage", daemon=True)
            self.outages.append(outage)
            outage.start()
        else:
            raise ValueError(f"unknown fault {fault.kind}")


def _sweep_killing_the_relay(env: dict[str, str], sweep_at: str, fleet: Fleet, log: FaultLog,
                             settings: Settings, timeout: float = 120.0) -> None:
    """`cases sweep` with the relay down, then the relay started and SIGKILLed the
    moment the broker has the sweep's events but the outbox does not yet say so: the
    window between sending and marking, where a crash must re-send, not lose."""
    relay = next(i for i in fleet.instances if i.component == "relay")
    pid = relay.pid
    fleet.kill(relay)
    log.killed(relay.name)
    log.note(f"SIGKILL {relay.name} (pid {pid}) before the sweep, so its events wait")
    _cases(env, "sweep", "--now", sweep_at)
    admin = AdminClient(settings.kafka())
    before = sum(end_offsets(admin, CASE_EVENTS_TOPIC).values())
    deadline = time.monotonic() + timeout
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        waiting = _unpublished(conn)
        fleet.start(relay)
        log.note(f"started {relay.name} again (pid {relay.pid}); {waiting} events to publish")
        while waiting and time.monotonic() < deadline:
            sent = sum(end_offsets(admin, CASE_EVENTS_TOPIC).values()) - before
            waiting = _unpublished(conn)
            if sent and waiting:
                pid = relay.pid
                fleet.kill(relay)
                log.killed(relay.name)
                log.note(f"SIGKILL {relay.name} (pid {pid}) with {sent} events on the topic "
                         f"and {waiting} not marked published")
                time.sleep(1.0)
                fleet.start(relay)
                log.note(f"started {relay.name} again (pid {relay.pid})")
                return
        log.note("relay kill between sending and marking missed: the relay marked its "
                 "batch before the topic's offsets were seen to move")


def _unpublished(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT count(*) FROM case_events WHERE published_at IS NULL").fetchone()
    return int(row[0]) if row else 0


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
            _cases(env, "setup")
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
                _sweep_killing_the_relay(env, trial.sweep_at, fleet, result.fault_log, settings)
            else:
                _cases(env, "sweep", "--now", trial.sweep_at)
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
    finally:
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
        runner = _FaultRunner(trial.faults, fleet, services, result.fault_log,
                              trial.outage_hold)
        result.fault_log.started = time.monotonic()
    started = time.monotonic()
    publisher.start()
    while publisher.is_alive() or (runner is not None and runner.pending()):
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
