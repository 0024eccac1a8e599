"""The figures `make bench` prints, and the targets they are held against."""

from __future__ import annotations

import math
import os
import platform
import re
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bench.latency import Latency, percentile
from bench.pipeline import LOCK_SAMPLE_SECONDS
from bench.raw import Rate
from bench.services import REPO
from schemas import INBOUND_TOPICS

if TYPE_CHECKING:
    from bench.run import Bench, PipelineRun

RATIO_TARGET = 0.5
CPU_TARGET = 0.12  # CPU-seconds per 1,000 inbound records
P99_TARGET_MS = 250.0
#: peak memory may grow this much with a tenfold backlog and still count as flat
FLAT_GROWTH = 1.25
SAMPLE_MS = round(LOCK_SAMPLE_SECONDS * 1000)


def machine() -> str:
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.MULTILINE)
        model = found.group(1).strip() if found else model
    pom = (REPO / "deploy" / "kafka" / "pom.xml").read_text()
    kafka = re.search(r"<kafka\.version>([^<]+)<", pom)
    return (f"{os.cpu_count()} cores ({model}), {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, Kafka {kafka.group(1) if kafka else '?'}")


def _n(value: float) -> str:
    return f"{value:,.0f}" if not math.isnan(value) else "-"


def _ratio(pipeline: float, raw: float) -> float:
    return pipeline / raw if raw else float("nan")


def _spread(values: list[float], digits: int = 1, unit: str = "") -> str:
    """median (min-max)"""
    if not values:
        return "-"
    median = statistics.median(values)
    if len(values) == 1:
        return f"{median:.{digits}f}{unit}"
    return f"{median:.{digits}f}{unit} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def _rate(records: int, seconds: float) -> float:
    return records / seconds if seconds else float("nan")


def render(bench: Bench) -> str:
    lines = [f"Machine: {machine()}",
             f"Workload: {bench.orders:,} orders, {sum(bench.records.values()):,} records "
             f"({', '.join(f'{t} {n:,}' for t, n in bench.records.items())}); allowed "
             f"lateness {bench.allowed_lateness:g}s; batches "
             f"{', '.join(f'{t} {n}' for t, n in bench.batch_sizes.items())}",
             "Machine probe before each pass, CPU/elapsed ms (bench/probe.py; lower is "
             "faster: compare passes only where close): "
             + ", ".join(f"{label} {found}" for label, found in bench.probes.items()), ""]
    ratios_alone, ratios_at_once = {}, {}
    database = bench.database
    assert database is not None
    lines += ["Each topic alone (raw consume: a bare consumer reading and decoding; raw "
              "store: the consumers' transactions on one connection, no Kafka, run right "
              "before the topic's pipeline pass; pipeline: the topic's consumer alone "
              "reading the backlog, from its first batch to its last; ratio: pipeline / "
              "min(raw consume, raw store))",
              f"{'records/s':<18}{'records':>9}{'raw consume':>13}{'raw store':>11}"
              f"{'pipeline':>10}{'ratio':>7}"]
    for topic in INBOUND_TOPICS:
        c, d, p = bench.consume[topic], database.rates[topic], bench.alone[topic]
        ratio = ratios_alone[topic] = _ratio(p.per_second, min(c.per_second, d.per_second))
        lines.append(f"{topic:<18}{_n(p.records):>9}{_n(c.per_second):>13}"
                     f"{_n(d.per_second):>11}{_n(p.per_second):>10}{ratio:>7.2f}")
    decide_ratio = _ratio(bench.decide_alone.per_second, database.decide.per_second)
    lines += ["", f"Deciding, alone (records decided/s): raw decide (one pass of the "
              f"sweeper's code over everything stored) {_n(database.decide.per_second)}, "
              f"the sweeper of the pipeline {_n(bench.decide_alone.per_second)}, ratio "
              f"{decide_ratio:.2f}; raw decide used "
              f"{database.decide.cpu_seconds / max(database.decide.records, 1) * 1000:.3f} "
              "CPU-s per 1,000 records (itself and its PostgreSQL backend)", ""]
    mixed = bench.mixed
    lines += [f"All at once, mixed order ({len(mixed)} pass(es): median (min-max)); raw "
              "store: each topic's transactions in a process of its own, all together, "
              "right before each pipeline pass; pipeline: every component started "
              "together, a topic's rate is its records over the time from its consumer's "
              "first batch to its last; ratio: each pass over the raw store before it; "
              "over alone: the pipeline over the first table's raw store)",
              f"{'records/s':<18}{'raw store':>24}{'pipeline':>24}{'ratio':>18}"
              f"{'over alone':>12}"]
    for topic in INBOUND_TOPICS:
        rates = [_rate(run.records[topic], run.stages[topic].busy_span) for run in mixed]
        raws = [raw[topic].per_second for raw in bench.database_at_once]
        consume, alone = bench.consume[topic].per_second, database.rates[topic].per_second
        paired = [_ratio(rate, min(consume, raw)) for rate, raw in zip(rates, raws, strict=True)]
        ratio = ratios_at_once[topic] = statistics.median(paired)
        over_alone = _ratio(statistics.median(rates), min(consume, alone))
        lines.append(f"{topic:<18}{_spread(raws, 0):>24}{_spread(rates, 0):>24}"
                     f"{_spread(paired, 2):>18}{over_alone:>12.2f}")
    lines += ["", _pass_line("mixed", mixed),
              *([_pass_line("worst order", bench.worst)] if bench.worst else []), ""]
    lines += _costs(bench)
    lines += _latency_lines(mixed[-1], bench.warm_up)
    lines += _memory(bench)
    lines += _targets(bench, ratios_alone, ratios_at_once)
    return "\n".join(lines)


def _pass_line(name: str, runs: Sequence[PipelineRun]) -> str:
    return (f"{name}: every topic read in {_spread([r.read for r in runs])}s, everything "
            f"decided in {_spread([r.drain.decided for r in runs])}s and published in "
            f"{_spread([r.drain.relay for r in runs])}s; {runs[0].drain.case_events:,} "
            "case events")


def _costs(bench: Bench) -> list[str]:
    mixed, worst = bench.mixed, bench.worst
    runs = [*mixed, *worst]

    def per_record(run: PipelineRun, value: float) -> float:
        return value / run.total if run.total else 0.0

    median = sorted(mixed, key=lambda r: r.cpu_per_thousand)[len(mixed) // 2]
    components = ", ".join(f"{n} {s:.1f}" for n, s in sorted(
        median.cpu.items(), key=lambda kv: -kv[1]))
    waits = [100 * r.drain.lock_waits / r.drain.samples for r in runs if r.drain.samples]
    return [
        "Cost per record (mixed, worst order: median (min-max))",
        f"  CPU-seconds per 1,000 inbound records (every process, PostgreSQL and Kafka "
        f"included): {_spread([r.cpu_per_thousand for r in mixed], 3)}"
        + (f"; worst order {_spread([r.cpu_per_thousand for r in worst], 3)}"
           if worst else ""),
        f"  CPU-seconds of the median pass: {components}",
        *([f"  of them until every topic was read "
           f"({median.read:.1f}s; the benchmark's own PostgreSQL "
           f"sessions included): " + ", ".join(f"{n} {s:.1f}" for n, s in sorted(
               median.cpu_reading.items(), key=lambda kv: -kv[1]))]
          if median.cpu_reading else []),
        f"  histories decided again per 1,000 records: "
        f"{_spread([1000 * per_record(r, r.late_orders) for r in mixed], 2)}"
        + (f"; worst order {_spread([1000 * per_record(r, r.late_orders) for r in worst], 2)}"
           if worst else ""),
        f"  JSON state bytes written per record: "
        f"{_spread([per_record(r, r.state_bytes) for r in mixed], 0)}"
        + (f"; worst order {_spread([per_record(r, r.state_bytes) for r in worst], 0)}"
           if worst else ""),
        f"  WAL bytes per record (the whole server): "
        f"{_spread([per_record(r, r.wal_bytes) for r in mixed], 0)}",
        f"  a service session waiting for a lock, share of {SAMPLE_MS} ms samples: "
        f"{_spread(waits, 1, '%')}", ""]


def _latency_lines(run: PipelineRun, warm_up: Latency | None = None) -> list[str]:
    lines = []
    for name, lat in (("right after the backlog", run.latency_after_backlog),
                      ("settled", run.latency),
                      ("(not a target) the broker's first steady stream, before every pass",
                       warm_up)):
        if lat is None:
            continue
        lines.append(_latency_line(name, lat))
    return [("Latency of records of the moment at a steady rate, ms: beyond the allowed "
             "lateness (the case event read back, less the record's time and the allowed "
             "lateness), and end to end"), *lines, ""] if lines else []


def _latency_line(name: str, lat: Latency) -> str:
    return (f"  {name}: {lat.records:,} records at {lat.rate:,.0f}/s, {len(lat.total):,} "
            f"case events; beyond p50 / p95 / p99 {percentile(lat.beyond, 50):.0f} / "
            f"{percentile(lat.beyond, 95):.0f} / {percentile(lat.beyond, 99):.0f} (until "
            f"the deciding transaction began p50 / p99 {percentile(lat.until_decided, 50):.0f}"
            f" / {percentile(lat.until_decided, 99):.0f}, from then to read back "
            f"{percentile(lat.decided_to_read, 50):.0f} / "
            f"{percentile(lat.decided_to_read, 99):.0f}); end to "
            f"end p50 / p99 {percentile(lat.total, 50):.0f} / "
            f"{percentile(lat.total, 99):.0f}; records reached Kafka after they happened "
            f"p50 / p99 / max {percentile(lat.reached, 50):.0f} / "
            f"{percentile(lat.reached, 99):.0f} / {max(lat.reached, default=float('nan')):.0f}"
            + (f"; the service kept {lat.cores():.2f} cores busy (" + ", ".join(
                f"{n} {lat.cores(n):.2f}" for n in sorted(lat.cpu, key=lat.cpu.__getitem__,
                                                         reverse=True)) + ")"
               if lat.cpu else ""))


def _memory(bench: Bench) -> list[str]:
    small, full = bench.small, bench.mixed[-1]
    if small is None:
        return []
    growth = {n: full.memory[n][1] / small.memory[n][1] for n in full.memory
              if n in small.memory and small.memory[n][1]}
    return ["Peak memory, MiB, a tenth of the backlog -> the whole: "
            + ", ".join(f"{n} {small.memory[n][1] / 1024:.0f} -> {full.memory[n][1] / 1024:.0f}"
                        for n in growth)
            + f"; largest growth {max(growth.values(), default=float('nan')):.2f}x", ""]


def _targets(bench: Bench, alone: dict[str, float], at_once: dict[str, float]) -> list[str]:
    def met(name: str, values: dict[str, float], target: float) -> str:
        missed = [k for k, v in values.items() if not v >= target]
        return f"{name}: " + ("met" if not missed else f"NOT met for {', '.join(missed)}")

    cpu = {"mixed": statistics.median(r.cpu_per_thousand for r in bench.mixed)}
    if bench.worst:
        cpu["worst order"] = statistics.median(r.cpu_per_thousand for r in bench.worst)
    run = bench.mixed[-1]
    p99 = {name: percentile(lat.beyond, 99) for name, lat in
           (("after the backlog", run.latency_after_backlog), ("settled", run.latency))
           if lat is not None}
    small, full = bench.small, run
    growth = max((full.memory[n][1] / small.memory[n][1] for n in full.memory
                  if small and n in small.memory and small.memory[n][1]), default=0.0)
    return ["Targets",
            "  " + met(f"ratio >= {RATIO_TARGET}, each topic alone", alone, RATIO_TARGET),
            "  " + met(f"ratio >= {RATIO_TARGET}, all at once", at_once, RATIO_TARGET),
            "  " + ("CPU <= 0.12 s per 1,000 records: "
                    + ("met" if all(v <= CPU_TARGET for v in cpu.values())
                       else f"NOT met ({', '.join(f'{k} {v:.3f}' for k, v in cpu.items())})")),
            "  " + (f"p99 beyond the allowed lateness < {P99_TARGET_MS:.0f} ms: "
                    + ("met" if p99 and all(v < P99_TARGET_MS for v in p99.values())
                       else f"NOT met ({', '.join(f'{k} {v:.0f}' for k, v in p99.items())})")),
            "  " + (f"memory flat (<= {FLAT_GROWTH}x): "
                    + ("met" if growth <= FLAT_GROWTH else f"NOT met ({growth:.2f}x)"))]


__all__ = ["Rate", "render"]
