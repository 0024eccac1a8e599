"""The real service under load: `cases run COMPONENT` processes (the five consumers, the
relay, the sweeper, or a chosen few), on a fresh database, reading a backlog that is in
Kafka before they start (so that, as in production, nothing arrives after the watermark
has passed it), measured until every consumer group has committed its end, the sweeper
has decided everything and the relay has published every case event."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from bench.offsets import GroupWatcher, Offsets
from bench.services import REPO, BenchError, cpu_seconds, memory_kib
from configuration import Settings
from schemas import INBOUND_TOPICS

COMPONENTS = [*INBOUND_TOPICS, "relay", "sweeper"]
#: no progress for this long means the run is stuck
STALL_SECONDS = 180.0


@dataclass
class Drain:
    """When each consumer group reached the end of its topic, when the last record was
    decided and the last case event published: seconds after the processes started."""

    consumers: dict[str, float] = field(default_factory=dict)
    decided: float = 0.0
    relay: float = 0.0
    case_events: int = 0
    #: samples of pg_stat_activity (every LOCK_SAMPLE_SECONDS) with a session waiting for
    #: a lock, of all
    lock_waits: int = 0
    samples: int = 0
    #: CPU seconds of the benchmark's own PostgreSQL sessions (the drain's questions and
    #: the lock sampler): not the service's, so taken out of PostgreSQL's figure
    harness_cpu: float = 0.0


class Pipeline:
    """The service's processes for one run, each with its own log file."""

    def __init__(self, env: dict[str, str], log_dir: Path, repo: Path = REPO) -> None:
        """`repo`: the source tree the processes run (another revision's, for
        bench/compare.py; `service_env(..., repo)` puts it on their path)."""
        self.env, self.log_dir, self.repo = env, log_dir, repo
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.started_at: dict[str, float] = {}

    def start(self, *components: str, instances: int = 1) -> float:
        """Start `instances` processes of each of these components (all by default):
        the first named after its component, the others `orders#2` and on (members of
        the same consumer group); when, as time.perf_counter()."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        for component in components or COMPONENTS:
            for number in range(1, instances + 1):
                name = component if number == 1 else f"{component}#{number}"
                with open(self.log(name), "ab") as log:
                    self.procs[name] = subprocess.Popen(
                        [sys.executable, "-m", "cases_cli.main", "run", component],
                        env=self.env, cwd=self.repo, stdout=log, stderr=subprocess.STDOUT)
                self.started_at[name] = time.perf_counter()
        return started

    def log(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                tail = self.log(name).read_text(errors="replace")[-2000:]
                raise BenchError(f"`cases run {name}` exited ({proc.returncode}):\n{tail}")

    def memory(self) -> dict[str, tuple[int, int]]:
        """(current, peak) resident memory in KiB of each process."""
        return {name: memory_kib(proc.pid) for name, proc in self.procs.items()}

    def cpu(self) -> dict[str, float]:
        """CPU seconds each process used (all of its life)."""
        return {n: cpu_seconds(p.pid) for n, p in self.procs.items()}

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


#: The benchmark's own queries load the machine it measures, and the raw passes run
#: without them: a lock sample every 50 ms and a look at the groups' offsets every
#: 100 ms (5 OffsetFetch requests, the broker's CPU counted as the service's).
LOCK_SAMPLE_SECONDS = 0.05
DRAIN_POLL_SECONDS = 0.1


class LockSampler(threading.Thread):
    """Counts, every LOCK_SAMPLE_SECONDS, whether some session of the service waits for
    a lock."""

    def __init__(self, database_url: str) -> None:
        super().__init__(daemon=True)
        self.database_url, self.stop = database_url, threading.Event()
        self.samples = self.waiting = 0
        self.backend_cpu = 0.0

    def run(self) -> None:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            while not self.stop.wait(LOCK_SAMPLE_SECONDS):
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()").fetchone()
                self.samples += 1
                self.waiting += 1 if row and row[0] else 0
            self.backend_cpu = cpu_seconds(conn.info.backend_pid)


def drain(settings: Settings, pipeline: Pipeline, ends: Offsets, database_url: str,
          started: float, topics: list[str] | None = None, decisions: bool = True,
          on_read: Callable[[], None] | None = None) -> Drain:
    """Wait until the groups of `topics` (all of `ends`' by default) committed `ends`
    (then `on_read` is called), then (with `decisions`) until nothing stored is left
    undecided and the outbox is empty; times are relative to `started`
    (time.perf_counter())."""
    topics = topics or sorted({t for t, _ in ends})
    watcher = GroupWatcher(settings, topics)
    result = Drain()
    sampler = LockSampler(database_url)
    sampler.start()
    progress, last_progress = None, time.perf_counter()
    try:
        with psycopg.connect(database_url, autocommit=True) as conn:
            while True:
                pipeline.check_alive()
                now = time.perf_counter()
                lags = {t: watcher.lag(t, ends) for t in topics if t not in result.consumers}
                for topic, lag in lags.items():
                    if lag == 0:
                        result.consumers[topic] = now - started
                if lags and len(result.consumers) == len(topics) and on_read is not None:
                    on_read()
                left = (-1, -1)
                if len(result.consumers) == len(topics):
                    if not decisions:
                        return result
                    left = _left(conn)
                    if left[0] == 0 and not result.decided:
                        result.decided = now - started
                if left == (0, 0):
                    result.relay = now - started
                    counted = conn.execute("SELECT count(*) FROM case_events").fetchone()
                    result.case_events = counted[0] if counted else 0
                    result.harness_cpu += cpu_seconds(conn.info.backend_pid)
                    return result
                state = (sum(lags.values()), *left)
                if state != progress:
                    progress, last_progress = state, now
                elif now - last_progress > STALL_SECONDS:
                    raise BenchError(f"no progress for {STALL_SECONDS:.0f}s (lag {lags}, "
                                     f"records undecided: {bool(left[0])}, case events "
                                     f"unpublished: {bool(left[1])})")
                time.sleep(DRAIN_POLL_SECONDS)
    finally:
        sampler.stop.set()
        sampler.join(5)
        result.lock_waits, result.samples = sampler.waiting, sampler.samples
        result.harness_cpu += sampler.backend_cpu
        watcher.close()


def _left(conn: psycopg.Connection) -> tuple[int, int]:
    """(1 if some stored record is undecided or a time rule the watermark has passed is
    not decided yet, 1 if some case event is unpublished), by the queues and partial
    indexes: asked every 100 ms, a count would cost PostgreSQL more than some of what it
    measures. The time rules count: a pass decides its orders a chunk at a time, and
    chunks of orders with only a deadline due may follow the last undecided record's."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM undecided_records) "
        "OR EXISTS (SELECT 1 FROM undecided_reports) "
        "OR EXISTS (SELECT 1 FROM orders WHERE due_at <= (SELECT low FROM watermark)), "
        "EXISTS (SELECT 1 FROM unpublished_case_events)").fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


@dataclass
class Stages:
    """Where a process's busy time went, summed over its log lines."""

    batches: int = 0
    records: int = 0
    seconds: float = 0.0
    parts: dict[str, float] = field(default_factory=dict)
    #: the sweeper's: orders decided again for a late record, bytes of JSON state written
    late_orders: int = 0
    state_bytes: int = 0
    #: when the first batch (or pass) that did something began and the last ended, Unix
    #: seconds: how long the process was at work, whatever its start-up took
    first: float = 0.0
    last: float = 0.0

    @property
    def busy_span(self) -> float:
        return self.last - self.first if self.last else 0.0


CONSUMER_STAGES = ("decode", "sql", "commit", "dlq", "offsets")
RELAY_STAGES = ("select", "produce", "update")
SWEEPER_STAGES = ("sql", "state")


def stages(log: Path) -> Stages:
    """Sum the `batch_done` (consumer), `relay_published` (relay) or `decided`
    (sweeper) log lines."""
    out = Stages()
    for line in log.read_text(errors="replace").splitlines():
        if not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        event = entry.get("event")
        if event in ("batch_done", "relay_published", "decided"):
            at = dt.datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00")).timestamp()
            began = at - entry.get("seconds", 0.0)
            out.first = min(out.first, began) if out.first else began
            out.last = max(out.last, at)
        if event == "batch_done":
            out.records += entry["records"]
            out.seconds += entry["seconds"]
            names = CONSUMER_STAGES
        elif event == "relay_published":
            out.records += entry["events"]
            out.seconds += entry["seconds"]
            names = RELAY_STAGES
        elif event == "decided":
            out.records += entry["records"]
            out.late_orders += entry.get("late_orders", 0)
            out.state_bytes += entry.get("state_bytes", 0)
            names = SWEEPER_STAGES
        else:
            continue
        out.batches += 1
        for name in names:
            out.parts[name] = out.parts.get(name, 0.0) + entry.get(name, 0.0)
    return out


def component_of(name: str) -> str:
    """The component a process of Pipeline.procs runs (`orders#2` -> `orders`)."""
    return name.split("#", 1)[0]


#: where the components keep their compiled bytecode: they start from it, as from the
#: image (pip compiles what it installs), not compiling every module at each start
PYCACHE = Path(tempfile.gettempdir()) / "order-cases-bench-pycache"


def service_env(settings: Settings, database_url: str, repo: Path = REPO) -> dict[str, str]:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
           "DATABASE_URL": database_url, "CASES_LOG_JSON": "1",
           "PYTHONPYCACHEPREFIX": str(PYCACHE)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if repo != REPO:
        # ahead of the installed (editable) package, which is this checkout
        env["PYTHONPATH"] = os.pathsep.join(
            [str(repo), *filter(None, [os.environ.get("PYTHONPATH")])])
    return env
