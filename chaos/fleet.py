"""The service's components as separate `cases run <component>` processes.

Each instance is one operating-system process running one component in-process, as a
container would in production; a consumer component may run several instances, which
share its consumer group, and a second sweeper stands by to take over (an advisory lock
lets one lead). The fleet kills instances on request (SIGKILL: no clean-up code runs),
restarts them, and restarts any instance that exits on its own, counting those exits: a
component that dies because Kafka or PostgreSQL is away is a finding.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from schemas import INBOUND_TOPICS

CASES = Path(sys.executable).with_name("cases")
PR_SET_PDEATHSIG = 1


def _die_with_the_harness() -> None:
    """In the child before exec: SIGTERM when the harness dies, however it dies (a
    native abort runs no clean-up), so no consumer outlives its run. Linux only."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


#: the chaos topology: two instances where a group has something to share out, and two
#: sweepers, so that killing the leader hands its work to the standby
CHAOS_INSTANCES: dict[str, int] = {
    "orders": 1, "messages": 1, "carrier-tracking": 1, "payments": 2, "case-actions": 2,
    "relay": 1, "sweeper": 2,
}
assert set(CHAOS_INSTANCES) == {*INBOUND_TOPICS, "relay", "sweeper"}
#: what a sweeper logs each time it takes the lead (sweeper/loop.py)
LEADING = '"sweeper_leading"'
#: fault targets that name a sweeper by its role, resolved when the fault comes
ROLES = ("sweeper#leader", "sweeper#standby")


def fault_targets(topology: dict[str, int]) -> list[str]:
    """What the fault plan may kill: each instance by name, the sweepers by role (which
    of them leads is only known at the time)."""
    targets = [f"{c}#{n}" for c, count in topology.items() if c != "sweeper"
               for n in range(1, count + 1)]
    return targets + list(ROLES[:topology.get("sweeper", 0)])


@dataclass
class Instance:
    component: str
    number: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    #: when an exit it did not ask for was seen; it is restarted a little later
    exited_at: float | None = None
    starts: int = 0
    #: where its log stood when it was last started (what it logged since is this run's)
    log_offset: int = 0

    @property
    def name(self) -> str:
        return f"{self.component}#{self.number}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def last_led(self) -> str | None:
        """The log time of the last lead this process took (sweepers), None if none."""
        if not self.running():
            return None
        last = None
        with self.log_path.open("rb") as log:
            log.seek(self.log_offset)
            for line in log:
                if LEADING.encode() in line:
                    last = line
        if last is None:
            return None
        try:
            return str(json.loads(last)["timestamp"])
        except (ValueError, KeyError):  # a line cut short: it led, when is unknown
            return ""


@dataclass
class Fleet:
    env: dict[str, str]
    log_dir: Path
    instances: list[Instance] = field(default_factory=list)
    #: exits nobody asked for: (instance name, exit status, log path)
    unexpected_exits: list[tuple[str, int, str]] = field(default_factory=list)
    restart_delay: float = 1.0
    #: told of every exit `supervise` sees and every restart it makes
    on_event: Callable[[str], None] | None = None

    def start_all(self, topology: dict[str, int]) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for component, count in topology.items():
            for number in range(1, count + 1):
                instance = Instance(component, number,
                                    self.log_dir / f"{component}-{number}.log")
                self.instances.append(instance)
                self.start(instance)

    def start(self, instance: Instance) -> None:
        env = {**os.environ, **self.env}
        with instance.log_path.open("ab") as log:
            instance.log_offset = log.tell()
            # a new session: the harness's Ctrl-C reaches the harness, which stops them
            instance.process = subprocess.Popen(
                [str(CASES), "run", instance.component], env=env, stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                preexec_fn=_die_with_the_harness)
        instance.exited_at = None
        instance.starts += 1

    def kill(self, instance: Instance) -> None:
        """SIGKILL the instance and reap it (it is restarted by the caller)."""
        if instance.process is not None and instance.process.poll() is None:
            instance.process.send_signal(signal.SIGKILL)
            instance.process.wait()
        instance.process = None  # down on purpose: `supervise` leaves it alone

    def leader(self, component: str) -> Instance | None:
        """The running instance of `component` that took the lead last, by its log."""
        led = [(when, i) for i in self.instances if i.component == component
               if (when := i.last_led()) is not None]
        return max(led, key=lambda pair: pair[0])[1] if led else None

    def supervise(self) -> None:
        """Restart instances that exited on their own, after `restart_delay`, as a
        container platform would; record each such exit."""
        now = time.monotonic()
        for instance in self.instances:
            process = instance.process
            if process is None or process.poll() is None:
                continue
            if instance.exited_at is None:
                instance.exited_at = now
                self.unexpected_exits.append(
                    (instance.name, process.returncode, str(instance.log_path)))
                self._tell(f"{instance.name} exited on its own with status "
                           f"{process.returncode} (log {instance.log_path})")
            elif now - instance.exited_at >= self.restart_delay:
                self.start(instance)
                self._tell(f"{instance.name} restarted after its exit")

    def _tell(self, what: str) -> None:
        if self.on_event is not None:
            self.on_event(what)

    def stop_all(self, timeout: float = 60) -> None:
        """SIGTERM every instance (each stops after the batch in hand), then SIGKILL
        whatever is still running after `timeout` seconds."""
        for instance in self.instances:
            if instance.running():
                assert instance.process is not None
                instance.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for instance in self.instances:
            if instance.process is None:
                continue
            try:
                instance.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                instance.process.kill()
                instance.process.wait()
