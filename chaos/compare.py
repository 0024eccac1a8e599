"""The chaos run against the baseline: what was lost, doubled or changed.

The baseline ran the same records without faults, so its `case-events` and case states
are what the chaos run must reach. Event ids are deterministic (the same cause yields
the same id), which is what makes the two runs comparable record by record; a second
copy of the same event (same id, same bytes) is what at-least-once allows, anything
else is a fault the guarantees exclude.

Both runs drained a backlog published before the fleet started, so no record can have
come after the watermark passed it: each order was decided once, in event time, and
the two runs must publish exactly the same events. A decision superseded by a late
record (DecisionSuperseded) is a failure in either run, not a difference to allow for.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from chaos.snapshot import OrderCase, Snapshot, TopicCopy, describe

EXAMPLES = 5  # differing items printed per figure


@dataclass
class Figure:
    name: str
    value: int
    #: a non-zero value breaks a guarantee (and fails `make chaos`)
    must_be_zero: bool
    examples: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.must_be_zero and self.value != 0


def _first_payloads(copies: list[TopicCopy]) -> dict[str, bytes]:
    first: dict[str, bytes] = {}
    for copy in copies:
        first.setdefault(copy.event_id, copy.payload)
    return first


def lost_records(generated: set[str], run: Snapshot, label: str) -> Figure:
    lost = sorted(generated - run.inbox)
    return Figure(f"inbound records lost ({label})", len(lost), True, lost[:EXAMPLES])


def missing_events(baseline: Snapshot, chaos: Snapshot) -> Figure:
    missing = sorted({c.event_id for c in baseline.topic} - {c.event_id for c in chaos.topic})
    return Figure("case events missing (in baseline, not on chaos case-events)",
                  len(missing), True, missing[:EXAMPLES])


def extra_events(baseline: Snapshot, chaos: Snapshot) -> Figure:
    """Chaos events the baseline lacks, and copies whose bytes differ from the
    baseline's event of the same id (a different event under a reused id)."""
    expected = _first_payloads(baseline.topic)
    unknown = sorted({c.event_id for c in chaos.topic} - set(expected))
    changed = sorted({c.event_id for c in chaos.topic
                      if c.event_id in expected and c.payload != expected[c.event_id]})
    return Figure("case events duplicated beyond their event_id (new ids or changed bytes)",
                  len(unknown) + len(changed), True,
                  [f"new {i}" for i in unknown[:EXAMPLES]]
                  + [f"changed {i}" for i in changed[:EXAMPLES]])


def redelivered(run: Snapshot, label: str) -> Figure:
    counts = Counter(c.event_id for c in run.topic)
    again = {i: n for i, n in counts.items() if n > 1}
    extra = sum(n - 1 for n in again.values())
    return Figure(f"event_ids delivered more than once ({label}; {extra} extra copies)",
                  len(again), False, [f"{i} x{n}" for i, n in list(again.items())[:EXAMPLES]])


def _same_state(a: OrderCase | None, b: OrderCase | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.case_state == b.case_state and a.case == b.case


def _same_events(a: OrderCase | None, b: OrderCase | None) -> bool:
    # in seq order: the sweeper decides each order's records and time rules in event
    # time, so its events come in the same order however the passes fell
    return (a.events if a else []) == (b.events if b else [])


def differing_cases(baseline: Snapshot, chaos: Snapshot) -> list[Figure]:
    orders = sorted(set(baseline.orders) | set(chaos.orders))
    figures = []
    for name, same in (
            ("case states that differ (orders: case_state and the case)", _same_state),
            ("orders whose case_events rows differ ((event_id, order_id, type) in order)",
             _same_events)):
        differ = [o for o in orders if not same(baseline.orders.get(o), chaos.orders.get(o))]
        figures.append(Figure(name, len(differ), True, [
            f"{o}: baseline {describe(baseline.orders.get(o))} | "
            f"chaos {describe(chaos.orders.get(o))}" for o in differ[:EXAMPLES]]))
    return figures


def unsent_rows(run: Snapshot, label: str) -> Figure:
    """Outbox rows marked published that never reached the topic."""
    missing = sorted(set(run.outbox) - {c.event_id for c in run.topic})
    return Figure(f"outbox rows not on case-events ({label})", len(missing), True,
                  missing[:EXAMPLES])


def out_of_order_keys(run: Snapshot, label: str) -> Figure:
    """Keys whose events first appear on the topic in another order than the outbox's
    (a re-sent copy may come later; the first copy of each must keep the order)."""
    seen: dict[str, list[str]] = defaultdict(list)
    firsts: set[str] = set()
    for copy in run.topic:
        if copy.event_id not in firsts:
            firsts.add(copy.event_id)
            seen[copy.key].append(copy.event_id)
    bad = sorted(k for k, ids in seen.items() if ids != run.outbox_order.get(k, []))
    return Figure(f"keys with case events out of order on the topic ({label})", len(bad),
                  True, bad[:EXAMPLES])


def superseded(run: Snapshot, label: str) -> Figure:
    """Decisions a late record changed: none can be, with the whole workload in Kafka
    before the fleet started."""
    return Figure(f"decisions superseded by a late record ({label}; DecisionSuperseded)",
                  len(run.superseded), True, run.superseded[:EXAMPLES])


def dead_letters(run: Snapshot, label: str) -> list[Figure]:
    # the workload has no bad records: any dead letter is a good record refused
    return [Figure(f"{topic} records ({label})", count, True)
            for topic, count in sorted(run.dlq.items())]


def compare(generated: set[str], baseline: Snapshot, chaos: Snapshot) -> list[Figure]:
    return [
        lost_records(generated, chaos, "chaos"),
        lost_records(generated, baseline, "baseline"),
        missing_events(baseline, chaos),
        extra_events(baseline, chaos),
        redelivered(chaos, "chaos"),
        redelivered(baseline, "baseline"),
        *differing_cases(baseline, chaos),
        superseded(chaos, "chaos"),
        superseded(baseline, "baseline"),
        unsent_rows(chaos, "chaos"),
        unsent_rows(baseline, "baseline"),
        out_of_order_keys(chaos, "chaos"),
        out_of_order_keys(baseline, "baseline"),
        *dead_letters(baseline, "baseline"),
        *dead_letters(chaos, "chaos"),
    ]
