"""The real service under load: one `cases run COMPONENT` process per consumer and one
for the relay (the sweeper is left out: time rules are not part of this load), fed from
Kafka, measured until every consumer group has committed the end of its topic and the
relay has published every case event."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from confluent_kafka import ConsumerGroupState
from confluent_kafka.admin import AdminClient

from bench.offsets import GroupWatcher, Offsets
from bench.services import REPO, BenchError, cpu_seconds, memory_kib
from bootstrap.kafka import consumer_group
from configuration import Settings
from schemas import INBOUND_TOPICS

COMPONENTS = [*INBOUND_TOPICS, "relay"]
#: no progress for this long means the run is stuck
STALL_SECONDS = 180.0


@dataclass
class Drain:
    """When each consumer group reached the end of its topic and the relay finished,
    in seconds after the first record was published."""

    consumers: dict[str, float] = field(default_factory=dict)
    relay: float = 0.0
    case_events: int = 0
    max_lag: dict[str, int] = field(default_factory=dict)


class Pipeline:
    """The service's processes for one run, each with its own log file."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env, self.log_dir = env, log_dir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.cpu_at_start: dict[str, float] = {}

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for name in COMPONENTS:
            with open(self.log_dir / f"{name}.log", "wb") as log:
                self.procs[name] = subprocess.Popen(
                    [sys.executable, "-m", "cases_cli.main", "run", name], env=self.env,
                    cwd=REPO, stdout=log, stderr=subprocess.STDOUT)

    def log(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                tail = self.log(name).read_text(errors="replace")[-2000:]
                raise BenchError(f"`cases run {name}` exited ({proc.returncode}):\n{tail}")

    def wait_ready(self, settings: Settings, timeout: float = 120.0) -> None:
        """Until every consumer holds all partitions of its topic and the relay leads."""
        admin = AdminClient(settings.kafka())
        groups = [consumer_group(t) for t in INBOUND_TOPICS]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            described = {g: f.result() for g, f in
                         admin.describe_consumer_groups(groups, request_timeout=10).items()}
            stable = all(d.state == ConsumerGroupState.STABLE
                         and sum(len(m.assignment.topic_partitions) for m in d.members) > 0
                         for d in described.values())
            if stable and b"relay_leading" in self.log("relay").read_bytes():
                self.cpu_at_start = {n: cpu_seconds(p.pid) for n, p in self.procs.items()}
                return
            time.sleep(0.25)
        raise BenchError("the service's processes did not get ready in time")

    def memory(self) -> dict[str, tuple[int, int]]:
        """(current, peak) resident memory in KiB of each process."""
        return {name: memory_kib(proc.pid) for name, proc in self.procs.items()}

    def cpu(self) -> dict[str, float]:
        """CPU seconds each process used since it was ready."""
        return {n: cpu_seconds(p.pid) - self.cpu_at_start.get(n, 0.0)
                for n, p in self.procs.items()}

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


def drain(settings: Settings, pipeline: Pipeline, ends: Offsets, database_url: str,
          started: float) -> Drain:
    """Wait until every consumer group committed `ends` and the outbox is empty; times
    are relative to `started` (time.perf_counter() when publishing began)."""
    topics = sorted({t for t, _ in ends})
    watcher = GroupWatcher(settings, topics)
    result = Drain(max_lag=dict.fromkeys(topics, 0))
    progress, last_progress = None, time.perf_counter()
    try:
        with psycopg.connect(database_url, autocommit=True) as conn:
            while True:
                pipeline.check_alive()
                now = time.perf_counter()
                lags = {t: watcher.lag(t, ends) for t in topics if t not in result.consumers}
                for topic, lag in lags.items():
                    result.max_lag[topic] = max(result.max_lag[topic], lag)
                    if lag == 0:
                        result.consumers[topic] = now - started
                unpublished = -1  # asked only once the consumers are done: it scans the outbox
                if len(result.consumers) == len(topics):
                    unpublished = conn.execute(
                        "SELECT count(*) FROM case_events WHERE published_at IS NULL"
                    ).fetchone()[0]  # type: ignore[index]
                if unpublished == 0:
                    result.relay = now - started
                    result.case_events = conn.execute(
                        "SELECT count(*) FROM case_events").fetchone()[0]  # type: ignore[index]
                    return result
                state = (sum(lags.values()), unpublished)
                if state != progress:
                    progress, last_progress = state, now
                elif now - last_progress > STALL_SECONDS:
                    raise BenchError(f"no progress for {STALL_SECONDS:.0f}s (lag {lags}, "
                                     f"{unpublished} case events unpublished)")
                time.sleep(0.1)
    finally:
        watcher.close()


@dataclass
class Stages:
    """Where a process's busy time went, summed over its batches (from its logs)."""

    batches: int = 0
    records: int = 0
    seconds: float = 0.0
    parts: dict[str, float] = field(default_factory=dict)


CONSUMER_STAGES = ("decode", "sql", "state", "rules", "commit", "dlq", "offsets")
RELAY_STAGES = ("select", "produce", "update")


def stages(log: Path) -> Stages:
    """Sum the `batch_done` (consumer) or `relay_published` (relay) log lines."""
    out = Stages()
    for line in log.read_text(errors="replace").splitlines():
        if not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if entry.get("event") == "batch_done":
            out.records += entry["records"]
            names = CONSUMER_STAGES
        elif entry.get("event") == "relay_published":
            out.records += entry["events"]
            names = RELAY_STAGES
        else:
            continue
        out.batches += 1
        out.seconds += entry["seconds"]
        for name in names:
            out.parts[name] = out.parts.get(name, 0.0) + entry.get(name, 0.0)
    return out


def service_env(settings: Settings, database_url: str) -> dict[str, str]:
    return {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "DATABASE_URL": database_url}
