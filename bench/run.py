"""`make bench`: throughput, latency, memory and a profile of the service on a seeded
workload, in one run.

1. pipeline, small: N/10 orders published as fast as the broker takes them into the
   running service (five `cases run <consumer>` processes and the relay, fresh
   database), until every group has committed its topic's end and the outbox is empty;
   peak memory per process.
2. pipeline, full: the same with N orders; peak memory again (a tenfold backlog), the
   stage timings from the consumers' batch reports; then the latency runs on the same
   processes: a further workload at a steady rate, each case event timed from its
   inbound record's publication to its arrival on `case-events`; once right after the
   backlog (autovacuum and a checkpoint catching up meanwhile), once settled (after
   VACUUM ANALYZE and CHECKPOINT).
3. pipeline, each topic alone: the full workload again into fresh processes and a fresh
   database, but one topic at a time (orders, messages, carrier-tracking, payments,
   case-actions), each drained before the next is published, so each consumer has the
   machine to itself as the raw database pass below does.
4. raw consume: the full run's records read back and decoded per topic, no database.
5. raw database: the full workload applied with the service's unit of work, no Kafka,
   on a fresh database, on one connection, the topics in the same turn as in 3 (each
   topic's batches timed alone); then again with each topic in a process of its own,
   all at once (what the database allows when every consumer writes at the same time).

Services: KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL when set (a broker and server for the
benchmark alone: it creates databases and moves the service's consumer groups), else
private ones started with deploy/local/services.sh and stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from configuration.logging import configure_logging

from bench import latency as latency_run
from bench.offsets import end_offsets, move_groups_to
from bench.pipeline import COMPONENTS, Pipeline, drain, service_env, stages
from bench.raw import Rate, RawDatabase, raw_consume, raw_database, raw_database_at_once
from bench.report import PipelineRun, render
from bench.services import (
    BenchError,
    Services,
    drop_database,
    fresh_database,
    services,
    tree_cpu_seconds,
)
from cases_cli.commands import setup
from configuration import Settings, settings_from_env
from schemas import INBOUND_TOPICS, dlq_topic
from storage.migrate import migrate
from workload.generator import Published, generate
from workload.publish import encode, produce_encoded

RECORDS_PER_ORDER = 7.2  # about what the generator makes, to size the latency workload


def _log(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


def _fresh(svc: Services, name: str) -> str:
    """A new database with the service's schema."""
    url = fresh_database(svc.database_url, name)
    migrate(url)
    return url


def run_pipeline(settings: Settings, svc: Services, label: str, items: list[Published],
                 orders: int, log_dir: Path,
                 latency_items: tuple[list[Published], list[Published]] | None = None,
                 rate: float = 1000.0) -> tuple[PipelineRun, dict[str, float]]:
    database = _fresh(svc, f"bench_{label}")
    inbound = list(INBOUND_TOPICS)
    dlq = [dlq_topic(t) for t in inbound]
    starts = end_offsets(settings, inbound)
    move_groups_to(settings, starts)
    dlq_before = sum(end_offsets(settings, dlq).values())
    encoded = list(encode(items))
    pipeline = Pipeline(service_env(settings, database), log_dir / label)
    pipeline.start()
    try:
        pipeline.wait_ready(settings)
        server_pids = {"postgres": svc.postgres_pid(), "kafka": svc.kafka_pid()}
        server_cpu = {n: tree_cpu_seconds(p) for n, p in server_pids.items() if p}
        _log(f"{label}: publishing {len(encoded):,} records")
        started = time.perf_counter()
        produce_encoded(settings, encoded)
        published = time.perf_counter() - started
        _log(f"{label}: published in {published:.1f}s; draining")
        ends = end_offsets(settings, inbound)
        drained = drain(settings, pipeline, ends, database, started)
        server_cpu = {n: tree_cpu_seconds(server_pids[n]) - v  # type: ignore[arg-type]
                      for n, v in server_cpu.items()}
        _log(f"{label}: drained in {drained.relay:.1f}s")
        records = {t: sum(1 for i in items if i.topic == t) for t in inbound}
        run = PipelineRun(label, orders, records, published, drained, pipeline.memory(),
                          pipeline.cpu(), {n: stages(pipeline.log(n)) for n in COMPONENTS},
                          sum(end_offsets(settings, dlq).values()) - dlq_before, starts, ends)
        if latency_items:
            after_backlog, settled = latency_items
            _log(f"{label}: latency run right after the backlog, {len(after_backlog):,} "
                 f"records at {rate:,.0f}/s")
            run.latency_after_backlog = latency_run.measure(settings, pipeline, database,
                                                            after_backlog, rate)
            _log(f"{label}: vacuum and checkpoint, then the settled latency run")
            latency_run.settle(database)
            run.latency = latency_run.measure(settings, pipeline, database, settled, rate)
            run.memory_after_latency = pipeline.memory()
        return run, server_cpu
    finally:
        pipeline.stop()


def run_pipeline_each_alone(settings: Settings, svc: Services, items: list[Published],
                            log_dir: Path) -> dict[str, Rate]:
    """The same service, but each topic's records published and drained on their own, in
    turn (orders first, as each order's records begin with its OrderPlaced), while the
    other consumers sit idle: the pipeline like for like with raw db alone. A topic's
    rate is its records over the time from its first record published to its group
    committing its end."""
    database = _fresh(svc, "bench_alone")
    inbound = list(INBOUND_TOPICS)
    move_groups_to(settings, end_offsets(settings, inbound))
    pipeline = Pipeline(service_env(settings, database), log_dir / "alone")
    pipeline.start()
    rates: dict[str, Rate] = {}
    try:
        pipeline.wait_ready(settings)
        for topic in inbound:
            encoded = list(encode([i for i in items if i.topic == topic]))
            started = time.perf_counter()
            produce_encoded(settings, encoded)
            drained = drain(settings, pipeline, end_offsets(settings, [topic]), database,
                            started)
            rates[topic] = Rate(len(encoded), drained.consumers[topic])
            _log(f"alone: {topic} drained in {drained.consumers[topic]:.1f}s")
        return rates
    finally:
        pipeline.stop()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--orders", type=int, default=None,
                   help="orders in the full workload (default 50,000: about 360,000 records)")
    p.add_argument("--seed", type=int, default=1)
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="10,000 orders, 15 s of latency")
    size.add_argument("--smoke", action="store_true",
                      help="2,000 orders, 8 s of latency: checks that it all still works")
    p.add_argument("--latency-seconds", type=float, default=None)
    p.add_argument("--rate", type=float, default=1000.0,
                   help="records/s of the latency run (default 1,000)")
    p.add_argument("--profile", action="store_true",
                   help="also cProfile a raw database pass over a fifth of the workload")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    configure_logging("WARNING")
    orders = args.orders or (2_000 if args.smoke else 10_000 if args.quick else 50_000)
    latency_seconds = args.latency_seconds or (8 if args.smoke else 15 if args.quick else 30)
    if orders < 10 or args.rate <= 0 or latency_seconds <= 0:
        print("bench: --orders must be at least 10, --rate and --latency-seconds positive",
              file=sys.stderr)
        return 2

    _log(f"generating {orders:,} + {orders // 10:,} orders")
    full_items = generate(args.seed, orders)
    small_items = generate(args.seed + 1, orders // 10)
    wanted = int(args.rate * latency_seconds)
    latency_items = tuple(generate(seed, math.ceil(wanted / RECORDS_PER_ORDER) + 50)[:wanted]
                          for seed in (args.seed + 2, args.seed + 3))
    with services() as svc, tempfile.TemporaryDirectory(prefix="bench-logs-") as logs:
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": svc.bootstrap,
               "DATABASE_URL": svc.database_url}
        settings = settings_from_env(env)
        args.batch_sizes = {t: settings.batch_size_for(t) for t in INBOUND_TOPICS}
        setup(settings=settings)
        try:
            small, _ = run_pipeline(settings, svc, "small", small_items, orders // 10,
                                    Path(logs))
            full, services_cpu = run_pipeline(settings, svc, "full", full_items, orders,
                                              Path(logs), latency_items,  # type: ignore[arg-type]
                                              args.rate)
            _log("pipeline, each topic alone")
            alone = run_pipeline_each_alone(settings, svc, full_items, Path(logs))
            _log("raw consume")
            consume = raw_consume(settings, full.starts, full.ends)
            _log("raw database")
            database = raw_database(_fresh(svc, "bench_raw"), settings, full_items)
            _log("raw database, all topics at once")
            at_once = raw_database_at_once(_fresh(svc, "bench_at_once"), settings, full_items)
            if args.profile:  # a pass of its own: the profiler slows what it watches
                _log("raw database under cProfile (a fifth of the workload)")
                database.profile = raw_database(
                    _fresh(svc, "bench_profile"), settings,
                    full_items[:len(full_items) // 5], profile=True).profile
        finally:
            for name in ("bench_small", "bench_full", "bench_alone", "bench_raw",
                         "bench_at_once", "bench_profile"):
                drop_database(svc.database_url, name)
    print(render(args, full, small, alone, consume, database, at_once, services_cpu))
    if args.json:
        args.json.write_text(json.dumps(_jsonable({
            "full": asdict(full), "small": asdict(small),
            "pipeline_alone": {t: asdict(r) for t, r in alone.items()},
            "raw_consume": {t: asdict(r) for t, r in consume.items()},
            "raw_database": asdict(database),
            "raw_database_at_once": {t: asdict(r) for t, r in at_once.items()},
            "services_cpu": services_cpu}),
            default=str, indent=1))
    problems = _check(full, small, database)
    for problem in problems:
        print(f"bench: FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


def _jsonable(value: object) -> object:
    """Offsets are keyed by (topic, partition): JSON wants "topic/partition"."""
    if isinstance(value, dict):
        return {"/".join(map(str, k)) if isinstance(k, tuple) else k: _jsonable(v)
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _check(full: PipelineRun, small: PipelineRun, database: RawDatabase) -> list[str]:
    """What must hold on any machine (the targets are reported, not enforced)."""
    problems = []
    for run in (small, full):
        if run.dead_letters:
            problems.append(f"{run.label}: {run.dead_letters} dead letters from a valid "
                            "workload")
        if run.drain.case_events == 0:
            problems.append(f"{run.label}: no case events")
    if database.invalid:
        problems.append("raw database: records refused as invalid")
    for lat in (full.latency_after_backlog, full.latency):
        if lat is not None and not lat.total:
            problems.append("latency: no case event was read back")
    return problems


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
