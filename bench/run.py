"""`make bench`: throughput, cost per record, latency and memory of the service on a
seeded workload, in one run (docs/performance.md has the method and the figures).

The workload (workload/generator.py, about 7 records an order on all five topics) is put
on the broker once, as a backlog, before any of the service's processes start; every
pipeline pass then reads it from the start in a fresh database, so nothing arrives after
the watermark could have passed it (as in production: records reach Kafka within the
allowed lateness).

Before it all, the broker's first steady stream of records of the moment, through a
pipeline on a database of its own (`warm_up`: a production broker has compiled its
paths for such a stream long ago); then
0. pipeline at once on a tenth of the workload (another seed), published and read
   before the workload itself (memory against the tenfold backlog of pass 4);
1. raw consume: a bare consumer reads and decodes each topic (no database);
2. each topic alone: its consumers' transactions on one connection, no Kafka (raw
   store), and right after it that topic's consumer alone reading it (the pipeline),
   so that a ratio sets two passes of one moment of the machine side by side; then
   the sweeper's decisions alone over everything raw store stored (raw decide), and
   the sweeper and the relay of the pipeline deciding and publishing everything;
3. and 4., alternated --repeat times (the median and the spread of each):
3. pipeline at once, worst order: the sweeper and the relay, then the consumers one
   after another, case-actions first and orders last, each once the one before has
   read its topic;
4. at once, mixed: the five topics' transactions at once in processes of their own
   (raw store at once), then every component of the pipeline started together;
5. latency: records of the moment at a steady rate into the service of the last pass
   4, right after its backlog, then settled (VACUUM ANALYZE, CHECKPOINT). Last: a pass
   after it would read these records too.

Services: KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL when set (a broker and server for the
benchmark alone: it creates databases and moves the service's consumer groups), else
private ones started with deploy/local/services.sh and stopped at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NoReturn

import psycopg

from bench import latency as latency_run
from bench.offsets import end_offsets, move_groups_to
from bench.pipeline import Drain, Pipeline, Stages, drain, service_env, stages
from bench.probe import Probe, probe
from bench.raw import Rate, RawDatabase, RawResult, decoded, raw_consume, raw_database_at_once
from bench.report import render
from bench.services import (
    REPO,
    BenchError,
    Services,
    drop_database,
    fresh_database,
    services,
    tree_cpu_seconds,
)
from cases_cli.commands import setup
from configuration import Settings, settings_from_env
from observability.logging import configure_logging
from schemas import INBOUND_TOPICS
from service.unit_of_work import Inbound
from storage.migrate import migrate
from workload import live
from workload.generator import Published, generate
from workload.publish import encode, produce_encoded

#: the order the worst-order pass starts the consumers in: each order's records begin
#: with its OrderPlaced, so orders last makes every other record wait for it
WORST_ORDER = ["case-actions", "payments", "messages", "carrier-tracking", "orders"]


def _log(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


def _probed(probes: dict[str, Probe], label: str) -> None:
    """The machine's speed right before the pass `label` (bench/probe.py)."""
    probes[label] = probe()
    _log(f"{label}: machine probe {probes[label]} ms (CPU/elapsed)")


@dataclass
class PipelineRun:
    label: str
    records: dict[str, int]
    drain: Drain
    memory: dict[str, tuple[int, int]]  # KiB: (current, peak)
    cpu: dict[str, float]  # CPU seconds per process, postgres and kafka included
    stages: dict[str, Stages]
    wal_bytes: int = 0
    #: CPU seconds per process from the start until every topic was read (mixed passes)
    cpu_reading: dict[str, float] = field(default_factory=dict)
    latency_after_backlog: latency_run.Latency | None = None
    latency: latency_run.Latency | None = None

    @property
    def total(self) -> int:
        return sum(self.records.values())

    @property
    def read(self) -> float:
        """When the last consumer group reached the end of its topic, s."""
        return max(self.drain.consumers.values(), default=0.0)

    @property
    def cpu_per_thousand(self) -> float:
        return sum(self.cpu.values()) / self.total * 1000 if self.total else 0.0

    @property
    def late_orders(self) -> int:
        return self.stages["sweeper"].late_orders if "sweeper" in self.stages else 0

    @property
    def state_bytes(self) -> int:
        return self.stages["sweeper"].state_bytes if "sweeper" in self.stages else 0


@dataclass
class Bench:
    orders: int
    records: dict[str, int]
    consume: dict[str, Rate] = field(default_factory=dict)
    database: RawResult | None = None
    #: raw store at once right before each mixed pass (the same moment of the machine)
    database_at_once: list[dict[str, Rate]] = field(default_factory=list)
    alone: dict[str, Rate] = field(default_factory=dict)
    decide_alone: Rate = field(default_factory=Rate)
    mixed: list[PipelineRun] = field(default_factory=list)
    #: the worst-order passes, one before each mixed pass
    worst: list[PipelineRun] = field(default_factory=list)
    small: PipelineRun | None = None
    allowed_lateness: float = 0.0
    batch_sizes: dict[str, int] = field(default_factory=dict)
    #: the machine probe right before each pass (bench/probe.py)
    probes: dict[str, Probe] = field(default_factory=dict)
    #: the broker's first steady stream, before every pass (`warm_up`): not a target
    warm_up: latency_run.Latency | None = None


class Workload:
    """The backlog on the broker: where each topic's records begin and end."""

    def __init__(self, settings: Settings, items: list[Published]) -> None:
        self.items = items
        self.records = {t: sum(1 for i in items if i.topic == t) for t in INBOUND_TOPICS}
        self.starts = end_offsets(settings, list(INBOUND_TOPICS))
        started = time.perf_counter()
        produce_encoded(settings, encode(items))
        self.publish_seconds = time.perf_counter() - started
        self.ends = end_offsets(settings, list(INBOUND_TOPICS))


def _wal_bytes(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT wal_bytes FROM pg_stat_wal").fetchone()
    return int(row[0]) if row else 0


def _latency(settings: Settings, svc: Services, pipeline: Pipeline, database: str,
             stream: list[live.Due], lateness: dt.timedelta) -> latency_run.Latency:
    """A latency run, with what each of the service's processes used of the CPU."""
    processes, servers = pipeline.cpu(), _server_cpu(svc)
    began = time.perf_counter()
    result = latency_run.measure(settings, database, stream, lateness)
    result.wall = time.perf_counter() - began
    result.cpu = {n: v - processes.get(n, 0.0) for n, v in pipeline.cpu().items()}
    result.cpu.update({n: v - servers.get(n, 0.0) for n, v in _server_cpu(svc).items()})
    return result


def _server_cpu(svc: Services) -> dict[str, float]:
    pids = {"postgres": svc.postgres_pid(), "kafka": svc.kafka_pid()}
    return {name: tree_cpu_seconds(pid) for name, pid in pids.items() if pid}


@dataclass(frozen=True)
class LatencyPlan:
    """Records of the moment for the latency runs: made when each run starts."""

    seed: int
    rate: float
    seconds: float

    def stream(self, offset: int) -> list[live.Due]:
        start = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
        return live.stream(self.seed + offset, self.rate, self.seconds, start)


def pipeline_pass(settings: Settings, svc: Services, label: str, workload: Workload,
                  log_dir: Path, order: list[str] | None = None,
                  latency: LatencyPlan | None = None, instances: int = 1,
                  repo: Path = REPO) -> PipelineRun:
    """Every component on a fresh database reading the backlog from its start; with
    `order`, the sweeper and relay first and the consumers one at a time in that order;
    `instances` processes of each consumer (one relay, one sweeper); `repo`: the source
    tree they run, which migrates the database too."""
    database = fresh_database(svc.database_url, f"bench_{label}")
    env = service_env(settings, database, repo)
    if repo == REPO:
        migrate(database)
    else:
        set_up_from(repo, env)
    move_groups_to(settings, workload.starts)
    pipeline = Pipeline(env, log_dir / label, repo)
    servers, wal = _server_cpu(svc), _wal_bytes(svc.database_url)

    def used() -> dict[str, float]:
        cpu = pipeline.cpu()
        cpu.update({n: v - servers.get(n, 0.0) for n, v in _server_cpu(svc).items()})
        return cpu

    reading: dict[str, float] = {}
    try:
        if order is None:
            started = pipeline.start(*INBOUND_TOPICS, instances=instances)
            pipeline.start("relay", "sweeper")
            result = drain(settings, pipeline, workload.ends, database, started,
                           on_read=lambda: reading.update(used()))
        else:
            started = pipeline.start("sweeper", "relay")
            harness = 0.0
            for topic in order:
                pipeline.start(topic, instances=instances)
                harness += drain(settings, pipeline, workload.ends, database, started,
                                 topics=[topic], decisions=False).harness_cpu
            result = drain(settings, pipeline, workload.ends, database, started)
            result.harness_cpu += harness
        cpu = used()
        if "postgres" in cpu:
            cpu["postgres"] -= result.harness_cpu
        run = PipelineRun(label, dict(workload.records), result, pipeline.memory(), cpu,
                          {n: stages(pipeline.log(n)) for n in pipeline.procs},
                          _wal_bytes(svc.database_url) - wal, reading)
        _log(f"{label}: read in {max(result.consumers.values()):.1f}s, decided in "
             f"{result.decided:.1f}s, published in {result.relay:.1f}s; "
             f"{run.cpu_per_thousand:.3f} CPU-s per 1,000 records, "
             f"{run.late_orders} orders decided again")
        if latency is not None:
            lateness = settings_from_env(pipeline.env).allowed_lateness
            _log(f"{label}: latency, right after the backlog ({latency.rate:,.0f} records/s "
                 f"for {latency.seconds:.0f}s)")
            run.latency_after_backlog = _latency(settings, svc, pipeline, database,
                                                 latency.stream(0), lateness)
            latency_run.settle(database)
            _log(f"{label}: latency, settled")
            run.latency = _latency(settings, svc, pipeline, database, latency.stream(1),
                                   lateness)
        return run
    finally:
        pipeline.stop()
        drop_database(svc.database_url, f"bench_{label}")


def warm_up(settings: Settings, svc: Services, log_dir: Path, plan: LatencyPlan
            ) -> latency_run.Latency:
    """The broker's first steady stream, through a pipeline on a database of its own,
    before any pass. A broker in production has served such a stream for long and has
    compiled (JIT) its paths for small produce requests and held fetches; a fresh one
    spends some 14 CPU-s of its compiler threads on them in its first 30 seconds of it,
    which the latency run right after the backlog would otherwise measure. Its records
    come before every workload's start offsets: no pass reads them."""
    database = fresh_database(svc.database_url, "bench_warm_up")
    try:
        migrate(database)
        pipeline = Pipeline(service_env(settings, database), log_dir / "warm-up")
        pipeline.start()
        try:
            return _latency(settings, svc, pipeline, database, plan.stream(0),
                            settings.allowed_lateness)
        finally:
            pipeline.stop()
    finally:
        drop_database(svc.database_url, "bench_warm_up")


def set_up_from(repo: Path, env: dict[str, str]) -> None:
    """`cases setup` as the source tree `repo` has it: its own migrations (the topics
    are there already)."""
    done = subprocess.run([sys.executable, "-m", "cases_cli.main", "setup"], cwd=repo,
                          env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise BenchError(f"`cases setup` of {repo} failed ({done.returncode}): "
                         f"{(done.stderr or done.stdout).strip()[-1000:]}")


def bench_settings(svc: Services, partitions: int | None = None) -> Settings:
    """The settings of `svc`, the database migrated and the topics created (with
    `partitions`, else as CASES_TOPIC_PARTITIONS or the broker's default)."""
    settings = settings_from_env({**os.environ, "KAFKA_BOOTSTRAP_SERVERS": svc.bootstrap,
                                  "DATABASE_URL": svc.database_url})
    setup(partitions=partitions, settings=settings)
    return settings


def each_alone(settings: Settings, svc: Services, workload: Workload, log_dir: Path,
               inbound: dict[str, list[Inbound]]) -> tuple[dict[str, Rate], Rate, RawResult]:
    """Per topic, raw store (its transactions without Kafka, on a database of its own)
    and right after it that topic's consumer alone reading the backlog (the others not
    running), so that each ratio sets two passes of one moment of the machine side by
    side; then raw decide over everything raw store stored, and the sweeper and the
    relay alone deciding and publishing it all."""
    database = fresh_database(svc.database_url, "bench_alone")
    migrate(database)
    raw_url = fresh_database(svc.database_url, "bench_raw")
    migrate(raw_url)
    raw = RawDatabase(raw_url, settings)
    move_groups_to(settings, workload.starts)
    pipeline = Pipeline(service_env(settings, database), log_dir / "alone")
    rates: dict[str, Rate] = {}
    try:
        for topic in INBOUND_TOPICS:
            stored = raw.store(topic, inbound[topic])
            started = pipeline.start(topic)
            drain(settings, pipeline, workload.ends, database, started, topics=[topic],
                  decisions=False)
            # from its first batch to its last: not the process's start nor the commit
            busy = stages(pipeline.log(topic)).busy_span
            rates[topic] = Rate(workload.records[topic], busy)
            _log(f"alone: {topic} raw store {stored.per_second:,.0f}/s, read in "
                 f"{busy:.1f}s ({rates[topic].per_second:,.0f}/s)")
        result = raw.decide()
        started = pipeline.start("sweeper", "relay")
        drain(settings, pipeline, workload.ends, database, started)
        busy = stages(pipeline.log("sweeper")).busy_span
        _log(f"alone: the sweeper decided everything in {busy:.1f}s")
        return rates, Rate(sum(workload.records.values()), busy), result
    finally:
        pipeline.stop()
        raw.close()
        drop_database(svc.database_url, "bench_alone")
        drop_database(svc.database_url, "bench_raw")


def raw_at_once(settings: Settings, svc: Services, inbound: dict[str, list[Inbound]]
                ) -> dict[str, Rate]:
    """Raw store with every topic at once, on a database of its own."""
    database = fresh_database(svc.database_url, "bench_at_once")
    try:
        migrate(database)
        return raw_database_at_once(database, settings, inbound)
    finally:
        drop_database(svc.database_url, "bench_at_once")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--orders", type=int, default=None,
                   help="orders in the workload (default 50,000: about 360,000 records)")
    p.add_argument("--seed", type=int, default=1)
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="10,000 orders, 15 s of latency")
    size.add_argument("--smoke", action="store_true",
                      help="2,000 orders, one mixed pass, 8 s of latency: checks that it all "
                           "still works")
    p.add_argument("--repeat", type=int, default=None,
                   help="mixed pipeline passes, for the median and the spread (default 3)")
    p.add_argument("--latency-seconds", type=float, default=None)
    p.add_argument("--rate", type=float, default=1000.0,
                   help="records/s of the latency runs (default 1,000)")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    configure_logging("WARNING")
    orders = args.orders or (2_000 if args.smoke else 10_000 if args.quick else 50_000)
    repeat = args.repeat or (1 if args.smoke else 3)
    seconds = args.latency_seconds or (8 if args.smoke else 15 if args.quick else 30)
    if orders < 10 or args.rate <= 0 or seconds <= 0 or repeat < 1:
        print("bench: --orders must be at least 10; --rate, --latency-seconds and --repeat "
              "positive", file=sys.stderr)
        return 2
    _log(f"generating {orders:,} orders (and a tenth as many)")
    items = generate(args.seed, orders)
    small_items = generate(args.seed + 1, orders // 10)
    with services() as svc, tempfile.TemporaryDirectory(prefix="bench-logs-") as logs:
        settings = bench_settings(svc)
        log_dir = Path(logs)
        _log(f"warming the broker up: {seconds:.0f}s of records of the moment")
        warmed = warm_up(settings, svc, log_dir, LatencyPlan(args.seed + 4, args.rate, seconds))
        # the tenth first, alone on the topics: a pass reads its backlog to the end of the
        # topics, and records of another workload after it would be late for it
        _log(f"a tenth of the backlog: {len(small_items):,} records")
        small_workload = Workload(settings, small_items)
        probes: dict[str, Probe] = {}
        _probed(probes, "small")
        small = pipeline_pass(settings, svc, "small", small_workload, log_dir)
        _log(f"the backlog: {len(items):,} records")
        workload = Workload(settings, items)
        bench = Bench(orders, workload.records,
                      allowed_lateness=settings.allowed_lateness.total_seconds(),
                      batch_sizes={t: settings.batch_size_for(t) for t in INBOUND_TOPICS},
                      small=small, probes=probes, warm_up=warmed)
        _log("raw consume")
        _probed(probes, "raw consume")
        bench.consume = raw_consume(settings, workload.starts, workload.ends)
        inbound = decoded(settings, items)
        _log("raw store and the pipeline, each topic alone")
        _probed(probes, "alone")
        bench.alone, bench.decide_alone, bench.database = each_alone(
            settings, svc, workload, log_dir, inbound)
        # the worst order and the mixed order alternate, so that both medians span one
        # stretch of the machine's time; the latency runs of the last mixed pass append
        # records of the moment to the topics, which a pass after them would read as well
        plan = LatencyPlan(args.seed + 2, args.rate, seconds)
        for n in range(repeat):  # the last mixed pass is measured for latency too
            _probed(probes, f"worst{n + 1}")
            bench.worst.append(pipeline_pass(settings, svc, f"worst{n + 1}", workload,
                                             log_dir, order=WORST_ORDER))
            _probed(probes, f"mixed{n + 1}")
            # right before the pass it is set against: one moment of the machine
            bench.database_at_once.append(raw_at_once(settings, svc, inbound))
            bench.mixed.append(pipeline_pass(settings, svc, f"mixed{n + 1}", workload,
                                             log_dir,
                                             latency=plan if n == repeat - 1 else None))
    print(render(bench))
    if args.json:
        args.json.write_text(json.dumps(asdict(bench), default=str, indent=1))
    problems = _check(bench)
    for problem in problems:
        print(f"bench: FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


def run_problems(run: PipelineRun) -> list[str]:
    """What must hold of any pipeline pass over a backlog published before it."""
    problems = []
    if run.drain.case_events == 0:
        problems.append(f"{run.label}: no case events")
    if run.late_orders:
        problems.append(f"{run.label}: {run.late_orders} orders decided again from a "
                        "backlog that was all on the broker first")
    return problems


def _check(bench: Bench) -> list[str]:
    """What must hold on any machine (the targets are reported, not enforced)."""
    problems = [p for run in [*bench.mixed, *bench.worst, bench.small] if run is not None
                for p in run_problems(run)]
    for run in bench.mixed:
        for lat in (run.latency_after_backlog, run.latency):
            if lat is not None and not lat.total:
                problems.append("latency: no case event was read back")
    if bench.database is not None and bench.database.refused:
        problems.append("raw database: records refused as bad input")
    return problems


def entry(main: Callable[[], int], prog: str = "bench") -> NoReturn:
    """Run a benchmark's `main` as a command: a BenchError is one line and status 1;
    SIGTERM unwinds like Ctrl-C, so its broker, database and components are stopped."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    entry(main)
