"""The faults of a chaos run: a seeded plan, and the log of what was done when.

The plan is drawn from the seed (and the window) alone, so a run can be repeated fault
for fault. The window is the time the fleet takes to drain the backlog without faults
(the baseline's drain, from the fleet's start): kills are spread over it, so each lands
while records are being stored, decided or published. In the chaos run the plan runs
on the drain's clock, which follows the work done (`chaos/progress.py`). Every instance is killed at
least once before any is killed twice (the relay included, and the sweepers by role:
the one leading and the standby, `chaos/fleet.py`), and an instance is always back
before its next kill. The broker and the database each restart once, at about a fifth
and two thirds of the window, so both outages hit work in flight (one after the other);
one extra kill lands just before the database outage (see `plan`).
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import time
from dataclasses import dataclass, field

from schemas import INBOUND_TOPICS

#: the consumer components (the extra kill before the database outage picks one of them)
CONSUMER_COMPONENTS = frozenset(INBOUND_TOPICS)


@dataclass(frozen=True)
class Fault:
    #: seconds of the drain's clock (`chaos/progress.py`)
    at: float
    #: "kill" (SIGKILL an instance, restart it after `down_for`), "kafka" or "postgres"
    kind: str
    target: str = ""
    down_for: float = 0.0


def plan(seed: int, instances: list[str], window: float, kills: int,
         restarts: bool = True) -> list[Fault]:
    rng = random.Random(seed)
    targets: list[str] = []
    while len(targets) < kills:
        round_ = instances[:]
        rng.shuffle(round_)
        if targets and round_[0] == targets[-1]:  # never the same one twice in a row
            round_.append(round_.pop(0))
        targets += round_
    targets = targets[:kills]
    begin, end = 0.05 * window, 0.95 * window
    spacing = (end - begin) / max(kills, 1)
    faults = [Fault(begin + (i + rng.uniform(0.1, 0.9)) * spacing, "kill", target,
                    # back before the next kill of anything
                    down_for=rng.uniform(0.2, min(3.0, 0.8 * spacing)))
              for i, target in enumerate(targets)]
    # the broker's outage early: consumers take longest to recover from it (they rejoin
    # their groups), and the decisions and events come later in the drain
    kafka_at, postgres_at = rng.uniform(0.15, 0.25), rng.uniform(0.60, 0.70)
    if restarts:
        faults += [Fault(window * kafka_at, "kafka"), Fault(window * postgres_at, "postgres")]
        # one more kill just before the database goes: a member of a two-instance
        # consumer group, back only once the database is down (so it cannot rejoin
        # before it returns), so its partitions move to its sibling at the session
        # timeout while the sibling is retrying its batch against the absent database
        components = [name.split("#")[0] for name in instances]
        shared = [n for n, c in zip(instances, components, strict=True)
                  if c in CONSUMER_COMPONENTS and components.count(c) > 1]
        at = window * postgres_at - 4.0
        busy = {f.target for f in faults if abs(f.at - at) < 6.0}  # its own kills apart
        shared = [n for n in shared if n not in busy] or shared
        if shared:
            faults.append(Fault(at, "kill", rng.choice(shared), down_for=rng.uniform(4.5, 6.0)))
    return sorted(faults, key=lambda f: f.at)


@dataclass
class FaultLog:
    """Timestamped lines, printed as they happen and kept for the report."""

    started: float = field(default_factory=time.monotonic)
    lines: list[str] = field(default_factory=list)
    kills: dict[str, int] = field(default_factory=dict)
    broker_restarts: int = 0
    postgres_restarts: int = 0

    def note(self, what: str) -> None:
        stamp = dt.datetime.now(dt.UTC).strftime("%H:%M:%S.%f")[:-3]
        line = f"{stamp} +{time.monotonic() - self.started:7.2f}s  {what}"
        self.lines.append(line)
        print(f"  fault {line}", file=sys.stderr, flush=True)

    def killed(self, instance: str) -> None:
        self.kills[instance] = self.kills.get(instance, 0) + 1

    @property
    def total_kills(self) -> int:
        return sum(self.kills.values())
