"""`make chaos`: does the service keep its guarantees when its processes, its broker and
its database die while it works?

One seeded workload (`workload.generate`) runs twice, each time on fresh local services
of its own and through the same component processes (`cases run <component>`: two
instances each of `case-actions` and `payments`, one of every other consumer, one
relay, two sweepers of which one leads), with the same settings (CASES_BATCH_SIZE):

1. baseline: the whole workload is published, then the fleet starts and drains it, no
   faults; how long that drain takes (from the fleet's start) is the fault window, and
   the work it did against time is the pace the chaos run's faults follow;
2. chaos: the same, while instances are SIGKILLed and restarted (the relay and the
   sweepers included), and the broker and PostgreSQL are each stopped and started once,
   over the fault window: `chaos/faults.py` plans it, `chaos/inject.py` carries it out,
   each fault once the chaos fleet has done the work the baseline's had done by its
   time (`chaos/progress.py`), so that faults land while records are stored, decided
   and published however long the outages hold the chaos run up.

The service decides in event time behind a low watermark, so the workload (dated long
before the wall clock) is published whole before the fleet starts (`chaos/backlog.py`):
nothing can then arrive after the watermark passed it, and both runs must decide, and
publish, exactly the same. `--unordered` publishes the topics one after another
instead of in time order, which must change nothing either. A run is drained when
every group has committed the end of its topic, the watermark is close to the wall
clock less the allowed lateness, nothing behind it is undecided, the outbox is empty
and there is no dead letter (`chaos/drain.py`). Then `cases sweep --now <a fixed time
far after the workload>` fires the remaining time rules (in the chaos run the relay is
killed between sending their events and marking them) and the relay drains again.
Both runs are read back and compared (`chaos/compare.py`); the exit status is 1 when a
figure that must be zero is not.
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

from chaos.backlog import UNORDERED_TOPICS, describe, in_publish_order
from chaos.compare import Figure, compare
from chaos.faults import plan
from chaos.fleet import CHAOS_INSTANCES, fault_targets
from chaos.progress import Pace
from chaos.report import print_report
from chaos.trial import Trial, TrialResult, run_trial, say
from workload.generator import Published, generate

REPO = Path(__file__).resolve().parent.parent
DEFAULT_ORDERS = 3000  # about 7 records each
#: records per consumer batch in both runs (see --batch-size)
DEFAULT_BATCH_SIZE = 1
#: what every component gets in both runs besides CASES_BATCH_SIZE: fetches of a few
#: record batches per partition (the backlog is published in batches of 100 records,
#: `chaos/trial.py`), so that a consumer takes its partitions in turns rather than one
#: after another. Each partition's event time then moves on with the others', and so
#: does the watermark: the sweeper decides and the relay publishes all through the
#: drain, where the faults land, instead of in one burst once the last partition has
#: been reached.
FLEET_SETTINGS = {"CASES_KAFKA_MAX_PARTITION_FETCH_BYTES": str(16 << 10)}
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
    p.add_argument("--kills", type=int, default=40, help="SIGKILLs in the chaos run (40)")
    p.add_argument("--outage-seconds", type=float, default=8.0,
                   help="how long the broker and the database stay stopped (8)")
    p.add_argument("--unordered", action="store_true",
                   help="publish the topics one after another, each whole ("
                        + ", ".join(UNORDERED_TOPICS) + "), instead of in time order "
                        "across the topics; both runs alike, and the figures must still "
                        "be zero")
    p.add_argument("--no-restarts", action="store_true",
                   help="no broker or database restart (with --kills 0: a second baseline, "
                        "to tell faults from differences between any two runs)")
    p.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE,
                   help="CASES_BATCH_SIZE of every consumer in both runs "
                        f"({DEFAULT_BATCH_SIZE}: small batches make the drain long enough "
                        "for the faults to land in it, and mid-batch)")
    p.add_argument("--window", type=float, default=None,
                   help="seconds after the fleet's start to spread the faults over "
                        "(default: as long as the baseline took to drain)")
    p.add_argument("--drain-timeout", type=float, default=900.0,
                   help="give up on a run that has not drained after this many seconds")
    p.add_argument("--publish-timeout", type=float, default=120.0,
                   help="fail a run whose broker keeps the publish waiting this long (120)")
    p.add_argument("--stable", type=float, default=5.0,
                   help="seconds a run must stay drained (5)")
    p.add_argument("--state-dir", type=Path, default=REPO / ".local" / "chaos",
                   help="where each run's services and logs go (.local/chaos)")
    p.add_argument("--keep", action="store_true",
                   help="keep the services' data after a run (always kept when one fails)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.batch_size < 1:
        parser().error("--batch-size must be at least 1")
    started = time.monotonic()
    say(f"generating the workload: seed {args.seed}, {args.orders} orders")
    generated_items = generate(args.seed, args.orders)  # its fixed default start
    items = in_publish_order(generated_items, args.unordered)
    generate_seconds = time.monotonic() - started
    generated = {p.record["event_id"] for p in items}
    by_topic = dict(Counter(p.topic for p in items))
    sweep_at = sweep_time(items)
    say(f"{len(items)} records ({by_topic}), published {describe(args.unordered)}; "
        f"sweep --now {sweep_at}")

    root = args.state_dir / f"seed-{args.seed}"
    common: dict[str, Any] = dict(
        items=items, sweep_at=sweep_at,
        settings={**FLEET_SETTINGS, "CASES_BATCH_SIZE": str(args.batch_size)},
        outage_hold=args.outage_seconds, publish_timeout=args.publish_timeout,
        drain_timeout=args.drain_timeout, stable=args.stable)
    results: list[TrialResult] = []
    baseline = run_trial(Trial("baseline", state_dir=root / "baseline",
                               log_dir=root / "logs" / "baseline", **common), keep=args.keep)
    results.append(baseline)
    window = args.window or baseline.drain_seconds
    if baseline.drained and window and baseline.total_work is not None:
        faults = plan(args.seed, fault_targets(CHAOS_INSTANCES), window, args.kills,
                      restarts=not args.no_restarts)
        say(f"chaos: {len(faults)} faults planned over the first {window:.0f}s of the "
            "baseline's drain")
        pace = Pace.of(baseline.work, baseline.total_work)
        results.append(run_trial(Trial("chaos", state_dir=root / "chaos",
                                       log_dir=root / "logs" / "chaos", faults=faults,
                                       pace=pace, total_work=baseline.total_work,
                                       **common), keep=args.keep))

    figures: list[Figure] = [
        Figure("runs that did not finish (stuck or failed)",
               sum(1 for r in results if not r.drained) + 2 - len(results), True,
               [f"{r.label}: {r.error}" for r in results if r.error]),
        *(Figure(f"components that exited on their own ({r.label})",
                 len(r.unexpected_exits), True,
                 [f"{n} rc={rc} log {log}" for n, rc, log in r.unexpected_exits])
          for r in results),
        # with the backlog in Kafka first no record can be late: an order decided again
        # is a pass that lost track of what it had decided, even if no event changed
        *(Figure(f"orders decided again for a record found late ({r.label}; the "
                 f"sweepers' logs)", r.sweeps.get("decided_again", 0), True)
          for r in results if r.sweeps),
    ]
    chaos = results[1] if len(results) > 1 else TrialResult("-")
    if baseline.snapshot is not None and chaos.snapshot is not None:
        figures += compare(generated, baseline.snapshot, chaos.snapshot)
    if chaos.fault_log is not None:
        (root / "logs").mkdir(parents=True, exist_ok=True)
        (root / "logs" / "faults.log").write_text("\n".join(chaos.fault_log.lines) + "\n")

    print_report(sys.stdout, seed=args.seed, orders=args.orders, records=len(items),
                 by_topic=by_topic, sweep_at=sweep_at, order=describe(args.unordered),
                 fleet_settings=common["settings"], window=window, results=results,
                 figures=figures, generate_seconds=generate_seconds,
                 total_seconds=time.monotonic() - started)
    return 1 if any(f.failed for f in figures) else 0


if __name__ == "__main__":
    sys.exit(main())
