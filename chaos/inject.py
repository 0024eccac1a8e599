"""Carrying out faults: the planned kills, restarts and outages of a chaos run, and the
relay kill between sending the sweep's events and marking them published."""

from __future__ import annotations

import heapq
import itertools
import threading
import time

import psycopg

from chaos.commands import cases
from chaos.faults import Fault, FaultLog
from chaos.fleet import Fleet, Instance
from chaos.offsets import OffsetProbe
from chaos.services import LocalServices
from configuration import Settings
from schemas import CASE_EVENTS_TOPIC


class FaultRunner:
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


def sweep_killing_the_relay(env: dict[str, str], sweep_at: str, fleet: Fleet, log: FaultLog,
                             settings: Settings, timeout: float = 120.0) -> None:
    """`cases sweep` with the relay down, then the relay started and SIGKILLed the
    moment the broker has the sweep's events but the outbox does not yet say so: the
    window between sending and marking, where a crash must re-send, not lose."""
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
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        waiting = _unpublished(conn)
        fleet.start(relay)
        log.note(f"started {relay.name} again (pid {relay.pid}); {waiting} events to publish")
        # watch the topic alone (the tightest loop): the first sign of the batch on it
        # triggers the kill, and the outbox says afterwards whether it came in time
        while waiting and time.monotonic() < deadline:
            sent = sum(probe.end_offsets(CASE_EVENTS_TOPIC).values()) - before
            if sent:
                pid = relay.pid
                fleet.kill(relay)
                log.killed(relay.name)
                waiting = _unpublished(conn)
                log.note(f"SIGKILL {relay.name} (pid {pid}) with {sent}+ events on the topic "
                         f"and {waiting} not marked published"
                         + ("" if waiting else " (too late: the batch was marked already)"))
                time.sleep(1.0)
                fleet.start(relay)
                log.note(f"started {relay.name} again (pid {relay.pid})")
                return
        log.note("relay kill between sending and marking: nothing to publish, or timed out")


def _unpublished(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT count(*) FROM case_events WHERE published_at IS NULL").fetchone()
    return int(row[0]) if row else 0
