"""A published decision read back from the outbox compares equal to the same decision
taken again: PostgreSQL's JSONB keeps an object's keys in an order of its own (shorter
keys first), so what an event says must not depend on the order of its keys at any
depth, or every decision with a nested value (money, an address) taken again after a
late record would look changed, and be superseded and published again."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from domain.case_events import RefundRecorded
from domain.policy import Policy
from domain.records import Money
from schemas.json_form import to_json
from storage.decisions import PostgresDecisions, _content
from storage.transaction import dumps


def as_jsonb(value: Any) -> Any:
    """`value` with every object's keys in the order a JSONB column gives them back."""
    if isinstance(value, dict):
        return {k: as_jsonb(value[k])
                for k in sorted(value, key=lambda k: (len(k.encode()), k.encode()))}
    if isinstance(value, list):
        return [as_jsonb(v) for v in value]
    return value


EVENT = RefundRecorded(
    occurred_at=dt.datetime(2026, 3, 18, 4, 11, 34, tzinfo=dt.UTC), order_id="o1",
    case_id="c1", buyer_id="b1", seller_id="s1", state="open", cause_id="r1",
    rule="rule-6 refund", amount=Money(2599, "EUR"), refunded_total=Money(2599, "EUR"),
    full=True)


def test_the_content_read_back_from_jsonb_equals_the_content_of_the_same_decision():
    stored = as_jsonb(json.loads(dumps(to_json(EVENT.to_record()))))
    assert list(stored["amount"]) == ["currency", "amount_minor"]  # as JSONB keeps it
    decisions = PostgresDecisions(None, Policy())  # no statement runs
    assert _content(stored) == decisions.content(EVENT)
