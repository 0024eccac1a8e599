"""`make chaos`: does the service keep its guarantees when its processes, its broker and
its database die mid-stream?

One seeded workload (`workload.generate`) runs twice, each time on fresh local services
of its own and through the same component processes (`cases run <component>`: two
instances each of `case-actions` and `payments`, one of every other consumer, one relay):

1. baseline: published at a steady rate, no faults;
2. chaos: published at the same rate while instances are SIGKILLed and restarted (the
   relay included), and the broker and PostgreSQL are each stopped and started once
   (`chaos/faults.py` plans it from the seed, `chaos/inject.py` carries it out).

Each record is held back until its order's previous record was applied
(`chaos/causal.py`): the service decides on the state it has when a record arrives, so
cross-topic races alone would make two fault-free runs differ. No wall-clock sweeper
runs (it would make the runs differ). Each run drains (every group committed to the
end of its topic, the outbox empty, for a few seconds), then `cases sweep --now <a fixed
time far after the workload>` fires the time rules (in the chaos run the relay is killed
between sending their events and marking them) and the relay drains again. Both runs
are read back and compared (`chaos/compare.py`); the exit status is 1 when a figure that
must be zero is not.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chaos.compare import Figure, compare
from chaos.faults import plan
from chaos.fleet import CHAOS_INSTANCES
from chaos.report import print_report
from chaos.trial import Trial, TrialResult, run_trial, say
from workload.generator import Published, generate

REPO = Path(__file__).resolve().parent.parent
DEFAULT_ORDERS = 3000  # about 7.5 records each
#: the sweep is this long after the last record: every deadline has passed (late
#: delivery is 365 days after opening)
SWEEP_AFTER = dt.timedelta(days=400)


def _occurred_at(record: dict[str, Any]) -> dt.datetime:
    value = record["occurred_at"]
    if isinstance(value, str):
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    assert isinstance(value, dt.datetime)
    return value


def sweep_time(items: Sequence[Published]) -> str:
    last = max(_occurred_at(p.record) for p in items)
    day = (last + SWEEP_AFTER).date()
    return f"{day.isoformat()}T00:00:00Z"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="chaos", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, default=1, help="workload and fault plan seed (1)")
    p.add_argument("--orders", type=int, default=DEFAULT_ORDERS,
                   help=f"orders in the workload ({DEFAULT_ORDERS}: over 20,000 records)")
    p.add_argument("--publish-seconds", type=float, default=120.0,
                   help="how long publishing takes at the steady rate (120)")
    p.add_argument("--kills", type=int, default=24, help="SIGKILLs in the chaos run (24)")
    p.add_argument("--outage-seconds", type=float, default=8.0,
                   help="how long the broker and the database stay stopped (8)")
    p.add_argument("--unordered", action="store_true",
                   help="publish in plain order without holding records back for their "
                        "order's previous record (chaos/causal.py): late records then "
                        "re-decide histories; case states must still agree, case events "
                        "may differ (reported, not failed)")
    p.add_argument("--no-restarts", action="store_true",
                   help="no broker or database restart (with --kills 0: a second baseline, "
                        "to tell faults from differences between any two runs)")
    p.add_argument("--drain-timeout", type=float, default=900.0,
                   help="give up on a run that has not drained after this many seconds")
    p.add_argument("--stable", type=float, default=5.0,
                   help="seconds a run must stay drained (5)")
    p.add_argument("--state-dir", type=Path, default=REPO / ".local" / "chaos",
                   help="where each run's services and logs go (.local/chaos)")
    p.add_argument("--keep", action="store_true",
                   help="keep the services' data after a run (always kept when one fails)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    started = time.monotonic()
    say(f"generating the workload: seed {args.seed}, {args.orders} orders")
    items = generate(args.seed, args.orders)  # its fixed default start
    generate_seconds = time.monotonic() - started
    generated = {p.record["event_id"] for p in items}
    by_topic = dict(Counter(p.topic for p in items))
    sweep_at = sweep_time(items)
    rate = len(items) / args.publish_seconds
    say(f"{len(items)} records ({by_topic}); {rate:.0f}/s; sweep --now {sweep_at}")

    root = args.state_dir / f"seed-{args.seed}"
    common: dict[str, Any] = dict(items=items, sweep_at=sweep_at, rate=rate,
                                  causal=not args.unordered, outage_hold=args.outage_seconds,
                                  drain_timeout=args.drain_timeout, stable=args.stable)
    instances = [f"{c}#{n}" for c, count in CHAOS_INSTANCES.items()
                 for n in range(1, count + 1)]
    trials = [
        Trial("baseline", state_dir=root / "baseline", log_dir=root / "logs" / "baseline",
              **common),
        Trial("chaos", state_dir=root / "chaos", log_dir=root / "logs" / "chaos",
              faults=plan(args.seed, instances, args.publish_seconds, args.kills,
                          restarts=not args.no_restarts), **common),
    ]
    results: list[TrialResult] = []
    for trial in trials:
        result = run_trial(trial, keep=args.keep)
        results.append(result)
        if not result.drained:
            break

    figures: list[Figure] = [
        Figure("runs that did not finish (stuck or failed)",
               sum(1 for r in results if not r.drained) + len(trials) - len(results), True,
               [f"{r.label}: {r.error}" for r in results if r.error]),
        *(Figure(f"components that exited on their own ({r.label})",
                 len(r.unexpected_exits), True,
                 [f"{n} rc={rc} log {log}" for n, rc, log in r.unexpected_exits])
          for r in results),
        *(Figure(f"records published before their order's previous record was applied "
                 f"({r.label})", r.feed.forced, True) for r in results if r.feed is not None),
    ]
    baseline, chaos = [*results, TrialResult("-"), TrialResult("-")][:2]
    if baseline.snapshot is not None and chaos.snapshot is not None:
        figures += compare(generated, baseline.snapshot, chaos.snapshot,
                           events_must_match=not args.unordered)
    if chaos.fault_log is not None:
        (root / "logs").mkdir(parents=True, exist_ok=True)
        (root / "logs" / "faults.log").write_text("\n".join(chaos.fault_log.lines) + "\n")

    print_report(sys.stdout, seed=args.seed, orders=args.orders, records=len(items),
                 by_topic=by_topic, sweep_at=sweep_at, rate=rate, results=results,
                 figures=figures, generate_seconds=generate_seconds,
                 total_seconds=time.monotonic() - started)
    return 1 if any(f.failed for f in figures) else 0


if __name__ == "__main__":
    sys.exit(main())
