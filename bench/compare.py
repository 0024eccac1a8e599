"""`make bench-compare BASE=<revision>`: the mixed pipeline pass (or, with --worst-order,
the worst-order one) of two revisions of the service, alternated on one broker, one
database server and one workload.

One `make bench` cannot tell a change of a few percent from the machine's spells: the
same code gave 0.126 to 0.143 CPU-s per 1,000 records in passes of one morning. Here
both revisions run in the same spell, pass for pass, in the order A B B A A B ..., after
a first pass that is not counted (a fresh broker compiles its paths then). Each
revision's processes run from a worktree of it (`git worktree add`, removed at the end)
and migrate their own database; both use this checkout's virtualenv and harness.

Services: as bench/run.py (KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL when set, else
private ones started and stopped here).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from bench.report import machine
from bench.run import (
    WORST_ORDER,
    PipelineRun,
    Workload,
    bench_settings,
    entry,
    pipeline_pass,
    run_problems,
)
from bench.services import REPO, BenchError, services
from observability.logging import configure_logging
from workload.generator import generate

#: the processes whose CPU the summary shows, in this order
PROCESSES = ("orders", "messages", "carrier-tracking", "payments", "case-actions", "relay",
             "sweeper", "postgres", "kafka")


@dataclass
class Arm:
    """One side of the comparison: a revision and the source tree it runs from."""

    name: str
    revision: str
    tree: Path
    runs: list[PipelineRun] = field(default_factory=list)

    def cpu_per_thousand(self) -> list[float]:
        return [run.cpu_per_thousand for run in self.runs]


def pass_order(arms: list[Arm], rounds: int) -> Iterator[Arm]:
    """A B, B A, A B, ...: each arm as often first as second, so that a drift of the
    machine during the comparison weighs on both alike."""
    for n in range(rounds):
        yield from (arms if n % 2 == 0 else reversed(arms))


def summary(arms: list[Arm]) -> list[str]:
    """The two arms side by side: CPU per record, time to decide everything, each
    process's CPU (those measured: PostgreSQL's and the broker's only when the benchmark
    started them), and how the medians compare."""
    base, head = arms
    lines = [f"{'':<26}" + "".join(f"{a.name:>24}" for a in arms),
             f"{'revision':<26}" + "".join(f"{a.revision[:12]:>24}" for a in arms),
             f"{'CPU-s per 1,000 records':<26}"
             + "".join(f"{_spread(a.cpu_per_thousand(), 4):>24}" for a in arms),
             f"{'every topic read, s':<26}"
             + "".join(f"{_spread([r.read for r in a.runs], 1):>24}" for a in arms),
             f"{'everything decided, s':<26}"
             + "".join(f"{_spread([r.drain.decided for r in a.runs], 1):>24}" for a in arms)]
    for process in PROCESSES:
        if all(process in r.cpu for a in arms for r in a.runs):
            lines.append(f"{'  ' + process + ', CPU-s':<26}" + "".join(
                f"{_spread([r.cpu[process] for r in a.runs], 2):>24}" for a in arms))
    change = (statistics.median(head.cpu_per_thousand())
              / statistics.median(base.cpu_per_thousand()) - 1)
    lines.append(f"{head.name} against {base.name}: {change:+.1%} CPU per record (medians); "
                 + _verdict(base.cpu_per_thousand(), head.cpu_per_thousand()))
    return lines


def _verdict(base: list[float], head: list[float]) -> str:
    if len(base) < 2 or len(head) < 2:
        return "one pass each: no spread to judge it by"
    if min(head) > max(base) or min(base) > max(head):
        return "every pass of one below every pass of the other"
    return "the passes overlap: within what the machine moves by"


def _spread(values: list[float], digits: int) -> str:
    return (f"{statistics.median(values):.{digits}f} "
            f"({min(values):.{digits}f}-{max(values):.{digits}f})")


def resolve(revision: str) -> str:
    """The commit a revision names, or a BenchError saying it names none."""
    done = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"],
                          cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        raise BenchError(f"{revision!r} names no commit of {REPO}")
    return done.stdout.strip()


@contextmanager
def worktree(commit: str) -> Iterator[Path]:
    """A checkout of `commit` beside this one, removed afterwards."""
    parent = Path(tempfile.mkdtemp(prefix="bench-compare-"))
    tree = parent / commit[:12]
    added = subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(tree),
                            commit], cwd=REPO, capture_output=True, text=True)
    if added.returncode != 0:
        parent.rmdir()
        raise BenchError(f"cannot check {commit[:12]} out: {added.stderr.strip()}")
    try:
        yield tree
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO,
                       capture_output=True)
        parent.rmdir()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("base", help="the revision to compare against (a commit, branch or tag)")
    p.add_argument("head", nargs="?", default=None,
                   help="the other revision (default: this checkout as it is, uncommitted "
                        "changes included)")
    p.add_argument("--orders", type=int, default=50_000,
                   help="orders in the workload (default 50,000: about 360,000 records)")
    p.add_argument("--rounds", type=int, default=3,
                   help="passes of each revision (default 3)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--worst-order", action="store_true",
                   help="compare the worst-order pass (the consumers one after another, "
                        "case-actions first and orders last) instead of the mixed one")
    p.add_argument("--json", type=Path, default=None,
                   help="also write each pass's figures here")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.orders < 10 or args.rounds < 1:
        print("bench-compare: --orders must be at least 10 and --rounds at least 1",
              file=sys.stderr)
        return 2
    configure_logging("WARNING")
    base = resolve(args.base)
    head = resolve(args.head) if args.head else None
    items = generate(args.seed, args.orders)
    with (worktree(base) as base_tree,
          worktree(head) if head else nullcontext(REPO) as head_tree,
          services() as svc, tempfile.TemporaryDirectory(prefix="bench-logs-") as logs):
        arms = [Arm("base", base, base_tree),
                Arm("head", head or "checkout", head_tree)]
        settings = bench_settings(svc)
        workload = Workload(settings, items)
        print(f"bench-compare: a first pass, not counted ({args.orders:,} orders, "
              f"{sum(workload.records.values()):,} records)", file=sys.stderr)
        order = WORST_ORDER if args.worst_order else None
        pipeline_pass(settings, svc, "warm", workload, Path(logs), order, repo=arms[1].tree)
        problems: list[str] = []
        for number, arm in enumerate(pass_order(arms, args.rounds)):
            run = pipeline_pass(settings, svc, f"{arm.name}{number}", workload, Path(logs),
                                order, repo=arm.tree)
            arm.runs.append(run)
            problems += run_problems(run)
    print(f"Machine: {machine()}")
    print(f"Workload: {args.orders:,} orders, {sum(workload.records.values()):,} records; "
          f"{args.rounds} {'worst-order' if args.worst_order else 'mixed'} passes of each "
          "revision, alternated; median (min-max)")
    print("\n".join(summary(arms)))
    if args.json:
        args.json.write_text(json.dumps(
            {a.name: {"revision": a.revision,
                      "passes": [{"cpu_per_thousand": r.cpu_per_thousand, "cpu": r.cpu,
                                  "decided": r.drain.decided} for r in a.runs]}
             for a in arms}, indent=1))
    for problem in problems:
        print(f"bench-compare: FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    entry(main, prog="bench-compare")
