"""The figure table `make bench` prints."""

from __future__ import annotations

import math
import os
import platform
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.latency import Latency, percentile
from bench.offsets import Offsets
from bench.pipeline import CONSUMER_STAGES, RELAY_STAGES, Drain, Stages
from bench.raw import Rate, RawDatabase
from bench.services import REPO
from schemas import INBOUND_TOPICS

RATIO_TARGET = 0.5
P99_TARGET_MS = 250.0
#: peak memory may grow this much with a tenfold backlog and still count as flat
FLAT_GROWTH = 1.25


@dataclass
class PipelineRun:
    label: str
    orders: int
    records: dict[str, int]
    publish_seconds: float
    drain: Drain
    memory: dict[str, tuple[int, int]]  # KiB: (current, peak)
    cpu: dict[str, float]
    stages: dict[str, Stages]
    dead_letters: int
    #: the inbound topics' offsets before and after this run's publication
    starts: Offsets = field(default_factory=dict)
    ends: Offsets = field(default_factory=dict)
    #: at a steady rate once the database has settled (the target's figure) ...
    latency: Latency | None = None
    #: ... and right after the backlog, while autovacuum and a checkpoint catch up
    latency_after_backlog: Latency | None = None
    memory_after_latency: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.records.values())


def machine() -> str:
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.MULTILINE)
        model = found.group(1).strip() if found else model
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split()[1])
        memory = f", {kib / 2**20:.0f} GiB RAM"
    pom = (REPO / "deploy" / "kafka" / "pom.xml").read_text()
    kafka = re.search(r"<kafka\.version>([^<]+)<", pom)
    return (f"{os.cpu_count()} cores ({model}){memory}, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, Kafka {kafka.group(1) if kafka else '?'}")


def _n(value: float) -> str:
    return f"{value:,.0f}" if not math.isnan(value) else "-"


def _mib(kib: int) -> str:
    return f"{kib / 1024:,.0f}"


def _ratio(pipeline: float, raw: float) -> float:
    return pipeline / raw if raw else float("nan")


def _total(rates: dict[str, Rate], at_once: bool) -> Rate:
    """Every record over the time of them all: one topic after another, or (at once)
    until the last topic finished."""
    seconds = [r.seconds for r in rates.values()]
    return Rate(sum(r.records for r in rates.values()),
                max(seconds, default=0.0) if at_once else sum(seconds))


@dataclass
class Ratios:
    """Per consumer: pipeline / min(raw consume, raw db), like for like (each topic
    alone; all five at once), and the pipeline at once over the topic's raw db alone."""

    alone: dict[str, float] = field(default_factory=dict)
    at_once: dict[str, float] = field(default_factory=dict)
    at_once_over_alone: dict[str, float] = field(default_factory=dict)


def throughput(run: PipelineRun, alone: dict[str, Rate], consume: dict[str, Rate],
               database: RawDatabase, at_once: dict[str, Rate]) -> tuple[list[str], Ratios]:
    """The two tables: each topic alone, and all five at once."""
    ratios = Ratios()
    pipeline_at_once = {t: Rate(run.records[t], run.drain.consumers[t]) for t in INBOUND_TOPICS}
    head = f"{'records/s':<18}{'records':>9}{'raw consume':>13}{'raw db':>9}{'pipeline':>10}"
    lines = ["Throughput, each topic alone (raw consume: a bare consumer reading and decoding; "
             "raw db: the service's unit of work on one connection, no Kafka; pipeline: the "
             "service, each topic's records published and drained in turn while the other "
             "consumers idle; ratio: pipeline / min(raw consume, raw db))",
             f"{head}{'ratio':>7}"]
    rows = [*INBOUND_TOPICS, "total"]
    totals = {"consume": _total(consume, False), "db": _total(database.rates, False),
              "pipeline": _total(alone, False)}
    for topic in rows:
        c, d, p = ((totals["consume"], totals["db"], totals["pipeline"]) if topic == "total"
                   else (consume[topic], database.rates[topic], alone[topic]))
        ratio = _ratio(p.per_second, min(c.per_second, d.per_second))
        if topic != "total":
            ratios.alone[topic] = ratio
        lines.append(f"{topic:<18}{_n(p.records):>9}{_n(c.per_second):>13}"
                     f"{_n(d.per_second):>9}{_n(p.per_second):>10}{ratio:>7.2f}")
    lines += ["", "Throughput, all five at once (raw db: each topic in a process and connection "
              "of its own, all started together; pipeline: the five consumers and the relay, "
              "from the first record published to the topic's group committing its end; "
              "ratio: pipeline / min(raw consume, raw db); last column: the pipeline over the "
              "first table's raw db, each topic with the machine to itself)",
              f"{head}{'ratio':>7}{'over alone':>12}"]
    totals = {"consume": totals["consume"], "db": _total(at_once, True),
              "alone": totals["db"],
              "pipeline": Rate(run.total, run.drain.relay)}
    for topic in rows:
        c, d, a, p = ((totals["consume"], totals["db"], totals["alone"], totals["pipeline"])
                      if topic == "total" else (consume[topic], at_once[topic],
                                                database.rates[topic], pipeline_at_once[topic]))
        ratio = _ratio(p.per_second, min(c.per_second, d.per_second))
        over_alone = _ratio(p.per_second, min(c.per_second, a.per_second))
        if topic != "total":
            ratios.at_once[topic] = ratio
            ratios.at_once_over_alone[topic] = over_alone
        lines.append(f"{topic:<18}{_n(p.records):>9}{_n(c.per_second):>13}"
                     f"{_n(d.per_second):>9}{_n(p.per_second):>10}{ratio:>7.2f}"
                     f"{over_alone:>12.2f}")
    return lines, ratios


def _target(name: str, ratios: dict[str, float]) -> str:
    missed = [t for t, r in ratios.items() if not r >= RATIO_TARGET]
    return f"{name}: " + ("met" if not missed else f"NOT met for {', '.join(missed)}")


def fair_share(database: RawDatabase) -> list[str]:
    """How many cores each topic's database path keeps busy alone, and what sharing the
    machine between all five leaves each: the ceiling of the pipeline at once over raw db
    alone."""
    cores = {t: r.cpu_seconds / r.seconds for t, r in database.rates.items()
             if r.seconds and r.cpu_seconds}
    if len(cores) < len(database.rates):  # the database runs elsewhere: not measured
        return []
    wanted, have = sum(cores.values()), os.cpu_count() or 1
    return ["  cores each topic's raw db alone keeps busy (Python and its PostgreSQL "
            "backend): " + ", ".join(f"{t} {c:.2f}" for t, c in cores.items()),
            f"  all five at once want {wanted:.1f} cores of {have}: an even share leaves "
            f"each about {min(1.0, have / wanted):.2f} of its speed alone (less once Kafka, "
            "the relay and the publisher take theirs)"]


def cpu_budget(run: PipelineRun, database: RawDatabase, services_cpu: dict[str, float]
               ) -> list[str]:
    """Whether the machine has the CPU for the pipeline at once to reach the target on
    each topic's raw db alone: every topic must then drain within 1/target of its raw db
    alone time, so the whole run's work must fit in the latest of those times."""
    deadlines = {t: run.records[t] / (RATIO_TARGET * r.per_second)
                 for t, r in database.rates.items() if r.per_second}
    if not deadlines or not services_cpu:  # the servers run elsewhere: not measured
        return []
    last = max(deadlines, key=deadlines.__getitem__)
    used = sum(run.cpu.values()) + sum(services_cpu.values())
    cores = os.cpu_count() or 1
    return [f"  the pipeline at once reaching {RATIO_TARGET} of raw db alone on every topic "
            f"means {last} (the latest) drained within {deadlines[last]:.1f}s: the run's "
            f"processes used {used:.0f} CPU-seconds (the publisher's not counted), and "
            f"{cores} cores give {cores * deadlines[last]:.0f} in that time"]


def render(args: Any, full: PipelineRun, small: PipelineRun, alone: dict[str, Rate],
           consume: dict[str, Rate],
           database: RawDatabase, at_once: dict[str, Rate], services_cpu: dict[str, float]
           ) -> str:
    out = [f"order cases benchmark: seed {args.seed}, {full.orders:,} orders, "
           f"{full.total:,} inbound records, batch sizes "
           + ", ".join(f"{t} {n:,}" for t, n in args.batch_sizes.items()),
           f"machine: {machine()}", ""]
    lines, ratios = throughput(full, alone, consume, database, at_once)
    out += [*lines,
            f"  pipeline at once: {full.total:,} records published in "
            f"{full.publish_seconds:.1f}s ({full.total / full.publish_seconds:,.0f}/s), all "
            f"consumers drained and all {full.drain.case_events:,} case events published by "
            f"the relay after {full.drain.relay:.1f}s "
            f"({full.drain.case_events / full.drain.relay:,.0f} events/s); dead letters: "
            f"{full.dead_letters}",
            "  (a group counts as drained when its committed offsets reach the end: they are "
            "committed every 0.25 s and polled every 0.1 s)",
            f"  target pipeline / min(raw consume, raw db) >= {RATIO_TARGET} per consumer: "
            + "; ".join([_target("each topic alone", ratios.alone),
                         _target("all five at once", ratios.at_once),
                         _target("the pipeline at once over raw db alone",
                                 ratios.at_once_over_alone)]),
            f"  raw database: {database.case_events:,} case events; time in sql "
            + ", ".join(f"{k} {v / sum(database.stages.values()):.0%}"
                        for k, v in database.stages.items()).replace("sql ", "", 1),
            *fair_share(database), *cpu_budget(full, database, services_cpu), ""]
    for lat, when in ((full.latency_after_backlog, "right after the backlog, autovacuum "
                       "and a checkpoint catching up"),
                      (full.latency, "settled: after VACUUM ANALYZE and CHECKPOINT")):
        if lat is not None:
            out += latency_lines(lat, when)
    out += [f"Peak memory (max RSS, MiB) with a backlog of {small.total:,} records "
            f"({small.orders:,} orders) and of {full.total:,} ({full.orders:,} orders)",
            f"{'process':<20}{'small':>8}{'full':>8}{'growth':>8}  max lag seen (small/full)"]
    for name in full.memory:
        a, b = small.memory[name][1], full.memory[name][1]
        lag = (f"{small.drain.max_lag.get(name, 0):,} / {full.drain.max_lag.get(name, 0):,}"
               if name in INBOUND_TOPICS else "")
        out.append(f"{name:<20}{_mib(a):>8}{_mib(b):>8}{b / a:>7.2f}x  {lag}")
    grown = [n for n in full.memory if full.memory[n][1] > FLAT_GROWTH * small.memory[n][1]]
    out += [f"  flat (growth <= {FLAT_GROWTH}x): "
            + ("yes" if not grown else f"NO for {', '.join(grown)}"), ""]
    out += profile(full, services_cpu)
    if database.profile:
        out += ["", "cProfile of the raw database pass (top functions by own time):",
                database.profile]
    return "\n".join(out)


def latency_lines(lat: Latency, when: str) -> list[str]:
    p = {q: percentile(lat.total, q) for q in (50, 95, 99)}
    return [f"Latency, inbound record published -> its case event read from case-events "
            f"(steady {lat.rate:,.0f} records/s for {lat.seconds:.0f}s, "
            f"{len(lat.total):,} case events; {when})",
            f"  p50 {p[50]:.0f} ms, p95 {p[95]:.0f} ms, p99 {p[99]:.0f} ms, max "
            f"{max(lat.total, default=float('nan')):.0f} ms (target p99 < "
            f"{P99_TARGET_MS:.0f} ms: {'met' if p[99] < P99_TARGET_MS else 'NOT met'})",
            "  published -> its transaction began: p50 "
            f"{percentile(lat.to_transaction, 50):.0f} / p99 "
            f"{percentile(lat.to_transaction, 99):.0f} ms; published -> relay produced: p50 "
            f"{percentile(lat.to_relay, 50):.0f} / p99 {percentile(lat.to_relay, 99):.0f}"
            f" ms; relay produced -> read: p50 {percentile(lat.to_reader, 50):.0f} / p99 "
            f"{percentile(lat.to_reader, 99):.0f} ms",
            "  by the causing record's topic (events, p50 / p99 ms): "
            + ", ".join(f"{t} {len(v)}, {percentile(v, 50):.0f} / {percentile(v, 99):.0f}"
                        for t, v in sorted(lat.by_topic.items())), ""]


def profile(run: PipelineRun, services_cpu: dict[str, float]) -> list[str]:
    out = ["Where the time goes (full pipeline run; each process's busy time in its batches, "
           "by stage)",
           f"{'process':<18}{'busy s':>8}{'of run':>8}{'batches':>9}{'avg':>6}  "
           + "".join(f"{s:>8}" for s in CONSUMER_STAGES)]
    for topic in INBOUND_TOPICS:
        st = run.stages[topic]
        wall = run.drain.consumers[topic]
        shares = "".join(f"{st.parts.get(s, 0) / st.seconds if st.seconds else 0:>8.0%}"
                         for s in CONSUMER_STAGES)
        out.append(f"{topic:<18}{st.seconds:>8.1f}{st.seconds / wall:>8.0%}{st.batches:>9,}"
                   f"{st.records / max(st.batches, 1):>6.0f}  {shares}")
    relay = run.stages["relay"]
    busy = relay.seconds or 1.0
    out.append(f"{'relay':<18}{relay.seconds:>8.1f}{relay.seconds / run.drain.relay:>8.0%}"
               f"{relay.batches:>9,}{relay.records / max(relay.batches, 1):>6.0f}  "
               + ", ".join(f"{s} {relay.parts.get(s, 0) / busy:.0%}" for s in RELAY_STAGES))
    cpu = {**run.cpu, **services_cpu}
    total = sum(cpu.values())
    out += ["  (decode: Avro + contract checks; sql: statements incl. lock waits; state: "
            "JSONB state (de)serialisation; rules: the policy in Python; commit: COMMIT)",
            f"CPU seconds over the run ({total:,.0f} s on {os.cpu_count()} cores in "
            f"{run.drain.relay:.0f} s; per 1,000 inbound records: "
            f"{total / run.total * 1000:.2f} s):",
            "  " + ", ".join(f"{n} {v:,.1f}" for n, v in cpu.items())]
    return out
