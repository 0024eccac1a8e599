"""The figures: what counts as lost, doubled, changed or out of order."""

from __future__ import annotations

from chaos.compare import compare
from chaos.snapshot import OrderCase, Snapshot, TopicCopy


def _run(copies: list[tuple[str, str, bytes]], states: dict[str, str | None]) -> Snapshot:
    run = Snapshot()
    run.inbox = {"r1", "r2"}
    run.topic = [TopicCopy(event_id, key, payload) for event_id, key, payload in copies]
    for event_id, key, payload in copies:
        run.outbox.setdefault(event_id, payload)
        if event_id not in run.outbox_order.get(key, []):
            run.outbox_order.setdefault(key, []).append(event_id)
    for order_id, state in states.items():
        events = [(e, order_id, "T") for e in run.outbox_order.get(order_id, [])]
        run.orders[order_id] = OrderCase(state, {"state": state}, events)
    run.dlq = {"orders.dlq": 0}
    return run


BASE = [("e1", "o1", b"1"), ("e2", "o1", b"2"), ("e3", "o2", b"3")]


def test_a_resent_copy_is_information_not_a_failure():
    baseline = _run(BASE, {"o1": "open", "o2": "closed"})
    chaos = _run([*BASE[:2], ("e1", "o1", b"1"), BASE[2]], {"o1": "open", "o2": "closed"})
    figures = compare({"r1", "r2"}, baseline, chaos)
    assert not [f for f in figures if f.failed]
    assert next(f for f in figures if f.name.startswith("event_ids delivered more than once "
                                                          "(chaos")).value == 1


def test_missing_new_and_changed_events_and_differing_states_fail():
    baseline = _run(BASE, {"o1": "open", "o2": "closed"})
    chaos = _run([("e1", "o1", b"1"), ("e2", "o1", b"X"), ("e9", "o2", b"9")],
                 {"o1": "open", "o2": "open"})
    chaos.inbox = {"r1"}
    failed = {f.name: f.value for f in compare({"r1", "r2"}, baseline, chaos) if f.failed}
    assert failed["inbound records lost (chaos)"] == 1
    assert failed["case events missing (in baseline, not on chaos case-events)"] == 1
    assert failed["case events duplicated beyond their event_id (new ids or changed bytes)"] == 2
    assert failed["case states that differ (orders: case_state and the case)"] == 1
    assert failed["orders whose case_events rows differ ((event_id, order_id, type) in "
                  "order)"] == 1


def test_a_key_whose_first_copies_break_the_outbox_order_fails():
    baseline = _run(BASE, {"o1": "open", "o2": "closed"})
    chaos = _run(BASE, {"o1": "open", "o2": "closed"})
    chaos.topic = [chaos.topic[1], chaos.topic[0], chaos.topic[2]]
    failed = [f.name for f in compare({"r1", "r2"}, baseline, chaos) if f.failed]
    assert failed == ["keys with case events out of order on the topic (chaos)"]


def test_an_order_whose_events_come_in_another_order_fails():
    baseline = _run(BASE, {"o1": "open", "o2": "closed"})
    chaos = _run(BASE, {"o1": "open", "o2": "closed"})
    chaos.orders["o1"].events.reverse()
    failed = [f.name for f in compare({"r1", "r2"}, baseline, chaos) if f.failed]
    assert failed == ["orders whose case_events rows differ ((event_id, order_id, type) in "
                      "order)"]


def test_a_superseded_decision_fails_even_when_both_runs_have_it():
    """With the whole workload in Kafka before the fleet starts, no record is late."""
    baseline = _run(BASE, {"o1": "open", "o2": "closed"})
    chaos = _run(BASE, {"o1": "open", "o2": "closed"})
    baseline.superseded = chaos.superseded = ["e2"]
    failed = [f.name for f in compare({"r1", "r2"}, baseline, chaos) if f.failed]
    assert failed == ["decisions superseded by a late record (chaos; DecisionSuperseded)",
                      "decisions superseded by a late record (baseline; DecisionSuperseded)"]
