"""Carrying out faults: the planned kills, restarts and outages of a chaos run, and the
relay kill between sending the sweep's events and marking them published."""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable

import psycopg

from chaos.commands import cases
from chaos.faults import Fault, FaultLog
from chaos.fleet import ROLES, Fleet, Instance
from chaos.offsets import OffsetProbe
from chaos.services import LocalServices
from configuration import Settings
from schemas import CASE_EVENTS_TOPIC


class FaultRunner:
    """Carries out the plan against the fleet and the services.

    The plan is on the drain's clock (`clock`: the seconds since the fleet started go
    in, the drain's seconds come out; by default the same): `chaos/progress.py` makes it
    follow the work done, so that faults planned over the baseline's drain come while
    the chaos run does the same work, however long its outages and stalls hold it up.
    A killed instance is restarted `down_for` seconds later on the wall clock, so
    instances also come back while the broker or the database is away. One outage at
    a time: one that falls due while the other is under way waits for its end."""

    def __init__(self, plan: list[Fault], fleet: Fleet, services: LocalServices,
                 log: FaultLog, outage_hold: float, started: float | None = None,
                 clock: Callable[[float], float] = lambda elapsed: elapsed) -> None:
        self.fleet, self.services, self.log = fleet, services, log
        #: the fleet's start (time.monotonic())
        self.started = time.monotonic() if started is None else started
        self.clock = clock
        self.order = itertools.count()
        #: planned faults, on the drain's clock
        self.planned: list[tuple[float, int, Fault]] = [(f.at, next(self.order), f)
                                                        for f in plan]
        heapq.heapify(self.planned)
        #: restarts of killed instances, on the wall clock (seconds after the start)
        self.restarts: list[tuple[float, int, str]] = []
        self.by_name: dict[str, Instance] = {i.name: i for i in fleet.instances}
        self.outages: list[threading.Thread] = []
        self.outage_hold = outage_hold
        self.error: Exception | None = None

    def pending(self) -> bool:
        return bool(self.planned or self.restarts) or self._outage_under_way()

    def _outage_under_way(self) -> bool:
        return any(o.is_alive() for o in self.outages)

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

    def step(self) -> None:
        elapsed = time.monotonic() - self.started
        while self.restarts and self.restarts[0][0] <= elapsed:
            _, _, name = heapq.heappop(self.restarts)
            instance = self.by_name[name]
            self.fleet.start(instance)
            self.log.note(f"started {instance.name} again (pid {instance.pid})")
        clock = self.clock(elapsed)
        while self.planned and self.planned[0][0] <= clock:
            if self.planned[0][2].kind != "kill" and self._outage_under_way():
                break  # the next outage waits for this one's end
            _, _, fault = heapq.heappop(self.planned)
            self._do(fault, elapsed, clock)

    def _target(self, target: str) -> tuple[Instance | None, str]:
        """The instance a kill is for, and its role: a sweeper's role (`ROLES`) is
        resolved now, from which one leads; None when no instance plays it now."""
        if target not in ROLES:
            return self.by_name[target], ""
        component, role = target.split("#")
        leader = self.fleet.leader(component)
        if role == "leader":
            return leader, " (leading)"
        others = [i for i in self.fleet.instances
                  if i.component == component and i is not leader and i.running()]
        return (others[0] if others else None), " (standing by)"

    def _do(self, fault: Fault, elapsed: float, clock: float) -> None:
        if fault.kind == "kill":
            instance, role = self._target(fault.target)
            if instance is None or not instance.running():
                # exited on its own meanwhile (the fleet restarts it), or still down
                self.log.note(f"SIGKILL {fault.target} skipped: "
                              + ("none plays it now" if instance is None else "not running"))
                return
            pid = instance.pid
            self.fleet.kill(instance)
            self.log.killed(instance.name + role)
            self.log.note(f"SIGKILL {instance.name}{role} (pid {pid}) at {clock:.1f}s of the "
                          f"drain; restart in {fault.down_for:.1f}s")
            heapq.heappush(self.restarts,
                           (elapsed + fault.down_for, next(self.order), instance.name))
        elif fault.kind in ("kafka", "postgres"):
            # in a thread: kills and restarts go on during the outage, so instances also
            # start while the broker or the database is away
            self.log.note(f"{fault.kind} outage at {clock:.1f}s of the drain")
            outage = threading.Thread(target=self._outage, args=(fault.kind,),
                                      name=f"{fault.kind}-outage", daemon=True)
            self.outages.append(outage)
            outage.start()
        else:
            raise ValueError(f"unknown fault {fault.kind}")


def sweep_killing_the_relay(env: dict[str, str], sweep_at: str, fleet: Fleet, log: FaultLog,
                             settings: Settings, timeout: float = 120.0) -> None:
    """`cases sweep` with the relay down, then the relay started and SIGKILLed once the
    broker has the sweep's events but the outbox does not say so: the window between
    sending and marking, where a crash must re-send, not lose.

    The window is held open rather than raced for: a transaction of the harness locks
    the table of publication marks (SHARE mode: read, not written), so the relay reads
    and sends the events but its INSERT marking them published waits. Once every one is
    on the topic, the relay is killed, the session of its waiting INSERT is ended too
    (it would otherwise commit the mark once the lock is gone, the relay's connection
    being in autocommit), and the lock is let go."""
    relay = next(i for i in fleet.instances if i.component == "relay")
    pid = relay.pid
    fleet.kill(relay)
    log.killed(relay.name)
    log.note(f"SIGKILL {relay.name} (pid {pid}) before the sweep, so its events wait")
    cases(env, "sweep", "--now", sweep_at)
    probe = OffsetProbe(settings)
    try:
        _kill_between_sending_and_marking(relay, fleet, log, settings, probe, timeout)
    finally:
        probe.close()


def _kill_between_sending_and_marking(relay: Instance, fleet: Fleet, log: FaultLog,
                                      settings: Settings, probe: OffsetProbe,
                                      timeout: float) -> None:
    before = sum(probe.end_offsets(CASE_EVENTS_TOPIC).values())
    deadline = time.monotonic() + timeout
    with psycopg.connect(settings.database_url) as hold, \
            psycopg.connect(settings.database_url, autocommit=True) as watch:
        # `hold` is one transaction, until its rollback; `watch` looks at the sessions
        # (pg_stat_activity is read once per transaction: never in `hold`'s)
        hold.execute("LOCK TABLE case_events_published IN SHARE MODE")
        waiting = _unpublished(hold)
        fleet.start(relay)
        log.note(f"started {relay.name} again (pid {relay.pid}); {waiting} events to publish, "
                 f"the publication marks locked")
        sent = 0
        while waiting and time.monotonic() < deadline:
            sent = sum(probe.end_offsets(CASE_EVENTS_TOPIC).values()) - before
            if sent >= waiting:
                break
            time.sleep(0.05)
        if not waiting or sent < waiting:
            hold.rollback()
            log.note(f"relay kill between sending and marking: {waiting} events to publish, "
                     f"{sent} on the topic after {timeout:.0f}s; not done")
            return
        blocked = _blocked_by(watch, hold.info.backend_pid)
        pid = relay.pid
        fleet.kill(relay)
        log.killed(relay.name)
        ended = [row[0] for row in watch.execute(
            "SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS b(pid)",
            (blocked,)).fetchall()]
        hold.rollback()
        unmarked = _unpublished(watch)
    log.note(f"SIGKILL {relay.name} (pid {pid}) with {sent} events on the topic, its INSERT "
             f"waiting ({sum(ended)} session ended); {unmarked} not marked published")
    time.sleep(1.0)
    fleet.start(relay)
    log.note(f"started {relay.name} again (pid {relay.pid})")


def _blocked_by(watch: psycopg.Connection, holder: int) -> list[int]:
    """The sessions waiting for a lock the session `holder` has (the relay's INSERT),
    once there is one."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        rows = watch.execute("SELECT pid FROM pg_stat_activity "
                             "WHERE %s = ANY(pg_blocking_pids(pid))", (holder,)).fetchall()
        if rows:
            return [row[0] for row in rows]
        time.sleep(0.05)
    return []


def _unpublished(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT count(*) FROM unpublished_case_events").fetchone()
    return int(row[0]) if row else 0
