"""The figures `make chaos` prints."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from chaos.compare import Figure
from chaos.trial import TrialResult


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:8.1f}s"


def print_report(out: TextIO, *, seed: int, orders: int, records: int,
                 by_topic: dict[str, int], sweep_at: str, order: str,
                 fleet_settings: dict[str, str],
                 window: float | None, results: Sequence[TrialResult],
                 figures: Sequence[Figure], generate_seconds: float,
                 total_seconds: float) -> None:
    w = out.write
    w("\n==== make chaos: figures ====\n")
    w(f"workload: seed {seed}, {orders} orders, {records} inbound records "
      f"({', '.join(f'{t} {n}' for t, n in by_topic.items())})\n")
    w(f"published whole before the fleet started, {order}; sweep --now {sweep_at}\n")
    w(f"both fleets with {' '.join(f'{k}={v}' for k, v in sorted(fleet_settings.items()))}\n")
    if window:
        w(f"faults planned over the first {window:.1f}s of the baseline's drain (unless "
          f"--window); each came once the chaos fleet had done as much work as the "
          f"baseline's by then\n")

    chaos = next((r for r in results if r.fault_log is not None), None)
    if chaos is not None and chaos.fault_log is not None:
        log = chaos.fault_log
        kills = ", ".join(f"{name} {n}" for name, n in sorted(log.kills.items()))
        w(f"faults: {log.total_kills} SIGKILLs ({kills}); {log.broker_restarts} Kafka "
          f"broker restart(s); {log.postgres_restarts} PostgreSQL restart(s)\n")
        w("fault log (UTC time, seconds after the fleet started; the drain's clock: "
          "the baseline's second with as much work done):\n")
        w("".join(f"  {line}\n" for line in log.lines))
    for result in results:
        exits = result.unexpected_exits
        drain = ("" if result.drain_seconds is None
                 else f" (backlog drained {result.drain_seconds:.1f}s after the fleet started)")
        w(f"{result.label}: published {result.published}, drained {result.drained}{drain}, "
          f"components that exited on their own: {len(exits)}"
          + (f" ({', '.join(f'{n} rc={rc}' for n, rc, _ in exits)})" if exits else "")
          + "\n")
        if result.batches:
            b = result.batches
            # from their log lines: a batch killed after its commit is stored, not counted
            w(f"  consumers' batches (logged): {b['records']} records seen, "
              f"{b['stored']} stored, "
              f"{b['duplicates']} redelivered and skipped by the inbox, "
              f"{b['dead_letters']} dead letters\n")
        if result.sweeps:
            s = result.sweeps
            w(f"  sweepers' passes: {s['orders']} orders, {s['records']} records and "
              f"{s['events']} case events decided, {s['refused']} records refused, "
              f"{s['decided_again']} orders decided again for a record found late "
              f"({s['superseded']} decisions superseded)\n")
        if result.stalls:
            w("  longest stall with records waiting, per group: "
              + ", ".join(f"{t} {s:.0f}s" for t, s in result.stalls.items()) + "\n")
        if result.error:
            w(f"  ERROR: {result.error}\n")

    w("\nphase durations (wall clock):\n")
    phases: list[str] = []
    for result in results:
        phases += [p for p in result.timings if p not in phases]
    w(f"  {'phase':<18}" + "".join(f"{r.label:>12}" for r in results) + "\n")
    for phase in phases:
        w(f"  {phase:<18}" + "".join(f"{_seconds(r.timings.get(phase)):>12}" for r in results)
          + "\n")
    w(f"  {'total':<18}" + "".join(f"{_seconds(sum(r.timings.values())):>12}" for r in results)
      + "\n")
    w(f"  generate {generate_seconds:.1f}s; whole run {total_seconds:.1f}s "
      f"({total_seconds / 60:.1f} min)\n")

    w("\nchaos against baseline ([!!] = must be zero and is not):\n")
    for figure in figures:
        mark = "[!!]" if figure.failed else ("[ok]" if figure.must_be_zero else "[i] ")
        w(f"  {mark} {figure.name:<78} {figure.value:>7}\n")
        for example in figure.examples if figure.value else []:
            w(f"         e.g. {example[:300]}\n")
    failed = [f for f in figures if f.failed]
    w(f"\nresult: {'FAIL' if failed else 'PASS'}"
      + (f" ({len(failed)} must-be-zero figure(s) not zero)" if failed else "") + "\n")
