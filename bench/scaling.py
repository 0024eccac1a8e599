"""`make bench-scaling`: the same workload drained with one, then two (or more)
instances of each consumer in its consumer group, for docs/scaling.md.

The workload is published once, as a backlog, before any of the service's processes
start; each pass reads it from its start in a fresh database (bench/run.py's
pipeline_pass), with N processes of each of the five consumers, one relay and one
sweeper. The inbound topics are created with --partitions partitions (4 by default, as
deploy/kubernetes/config.yaml): a group's members share its topic's partitions, so with
fewer partitions than instances some members idle. Topics that already exist (services
named by KAFKA_BOOTSTRAP_SERVERS) keep their partitions; the table says how many there
were.

Services: as bench/run.py (KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL when set, else
private ones started and stopped here).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from bench.pipeline import component_of
from bench.report import SAMPLE_MS, machine
from bench.run import (
    PipelineRun,
    Workload,
    bench_settings,
    entry,
    pipeline_pass,
    run_problems,
)
from bench.services import services
from observability.logging import configure_logging
from schemas import INBOUND_TOPICS
from workload.generator import generate

#: the columns of the CPU table after the consumers: the other processes of a pass
OTHERS = ("relay", "sweeper", "postgres", "kafka")


def _log(text: str) -> None:
    print(f"bench.scaling: {text}", file=sys.stderr, flush=True)


def cpu_by_component(run: PipelineRun) -> dict[str, float]:
    """CPU seconds per 1,000 inbound records of each component, its instances summed."""
    summed: dict[str, float] = {}
    for name, seconds in run.cpu.items():
        summed[component_of(name)] = summed.get(component_of(name), 0.0) + seconds
    return {name: seconds / run.total * 1000 for name, seconds in summed.items()}


def working(run: PipelineRun) -> str:
    """How many of the consumer processes stored at least one batch: `working/all`."""
    consumers = [s for n, s in run.stages.items() if component_of(n) in INBOUND_TOPICS]
    return f"{sum(1 for s in consumers if s.batches)}/{len(consumers)}"


def render(runs: list[tuple[int, PipelineRun]], orders: int, partitions: dict[str, int]
           ) -> str:
    first = runs[0][1]
    lines = [f"Machine: {machine()}",
             f"Workload: {orders:,} orders, {first.total:,} records; partitions per "
             f"inbound topic: {', '.join(f'{t} {n}' for t, n in partitions.items())}", "",
             "Instances of each consumer (one relay, one sweeper); seconds after the "
             "processes started: every group at the end of its topic, everything decided, "
             "everything published (drained); records/s: inbound records over drained; "
             f"lock waits: share of {SAMPLE_MS} ms samples with a service session waiting for a "
             "lock; working: consumer processes that stored a batch, of all",
             f"{'instances':>9}{'read s':>9}{'decided s':>11}{'drained s':>11}"
             f"{'records/s':>11}{'CPU-s/1,000':>13}{'lock waits':>12}{'working':>9}"]
    for instances, run in runs:
        d = run.drain
        waits = 100 * d.lock_waits / d.samples if d.samples else float("nan")
        lines.append(f"{instances:>9}{max(d.consumers.values()):>9.1f}{d.decided:>11.1f}"
                     f"{d.relay:>11.1f}{run.total / d.relay:>11,.0f}"
                     f"{run.cpu_per_thousand:>13.3f}{waits:>11.1f}%"
                     f"{working(run):>9}")
    columns = [*INBOUND_TOPICS, *OTHERS]
    lines += ["", "CPU-seconds per 1,000 inbound records, by component (its instances "
              "summed; PostgreSQL without the benchmark's own sessions)",
              f"{'instances':>9}" + "".join(f"{c:>{max(len(c), 7) + 2}}" for c in columns)]
    for instances, run in runs:
        cpu = cpu_by_component(run)
        lines.append(f"{instances:>9}" + "".join(
            f"{cpu.get(c, float('nan')):>{max(len(c), 7) + 2}.3f}" for c in columns))
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.scaling", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--orders", type=int, default=20_000,
                   help="orders in the workload (default 20,000: about 140,000 records)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--instances", type=int, nargs="+", default=[1, 2],
                   help="instances of each consumer, one pass each (default 1 2)")
    p.add_argument("--partitions", type=int, default=4,
                   help="partitions of the topics created (default 4)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    configure_logging("WARNING")
    if args.orders < 10 or args.partitions < 1 or min(args.instances) < 1:
        print("bench.scaling: --orders must be at least 10; --partitions and --instances "
              "positive", file=sys.stderr)
        return 2
    _log(f"generating {args.orders:,} orders")
    items = generate(args.seed, args.orders)
    with services() as svc, tempfile.TemporaryDirectory(prefix="bench-logs-") as logs:
        settings = bench_settings(svc, partitions=args.partitions)
        _log(f"the backlog: {len(items):,} records")
        workload = Workload(settings, items)
        partitions = {t: sum(1 for topic, _ in workload.ends if topic == t)
                      for t in INBOUND_TOPICS}
        runs = []
        for instances in args.instances:
            _log(f"{instances} instance(s) of each consumer")
            runs.append((instances, pipeline_pass(settings, svc, f"scaling{instances}",
                                                  workload, Path(logs),
                                                  instances=instances)))
    print(render(runs, args.orders, partitions))
    problems = [p for _, run in runs for p in run_problems(run)]
    for problem in problems:
        print(f"bench.scaling: FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    entry(main, "bench.scaling")
