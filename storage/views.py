"""Reads for people (`cases show`): an order, its case and its history as stored."""

from __future__ import annotations

from typing import Any

import psycopg

from domain.order import Order
from domain.policy import Policy
from storage import state_json
from storage.order_rows import order_from_row
from storage.progress import watermark


class NoSuchOrder(LookupError):
    pass


def _iso(value: Any) -> Any:
    return value.isoformat() if value is not None else None


def case_report(conn: psycopg.Connection, order_id: str, policy: Policy) -> dict[str, Any]:
    """The order, its case, its deadlines, what still waits for the watermark, the
    watermark, and its case events in event time with when each was published."""
    row = conn.execute("SELECT terms, state FROM orders WHERE order_id = %s",
                       (order_id,)).fetchone()
    waiting = conn.execute(
        "SELECT count(*), min(occurred_at) FROM undecided_records WHERE order_id = %s",
        (order_id,)).fetchone()
    history = conn.execute(
        "SELECT record, rule, cause_topic, cause_partition, cause_offset, cause_event_id, "
        "(SELECT published_at FROM case_events_published WHERE through_seq >= e.seq "
        "ORDER BY through_seq LIMIT 1), superseded_by, created_at FROM case_events e "
        "WHERE order_id = %s ORDER BY occurred_at, seq", (order_id,)).fetchall()
    if row is None and not history and not (waiting and waiting[0]):
        raise NoSuchOrder(f"no order {order_id!r} is known")
    order = order_from_row(order_id, *row) if row else Order(order_id)
    kept = watermark(conn)
    report: dict[str, Any] = {
        "order_id": order_id, "order": None, "case": None, "deadlines": {},
        "held_actions": len(order.held),
        "waiting_for_watermark": {"records": waiting[0] if waiting else 0,
                                  "earliest": _iso(waiting[1]) if waiting else None},
        "decided_through": _iso(order.decided_through),
        "watermark": ({"low": _iso(kept["low"]), "computed_at": _iso(kept["computed_at"]),
                       "held_by": [f"{t}[{p}]" for t, p in kept["held_by"]]}
                      if kept else None),
    }
    if order.terms is not None:
        terms = order.terms
        report["order"] = {
            "buyer_id": terms.buyer_id, "seller_id": terms.seller_id,
            "total": state_json.to_json(terms.total), "payment_method": terms.payment_method,
            "placed_at": terms.placed_at.isoformat(), "cancelled": order.cancelled,
            "refunded": state_json.to_json(order.refunded_total()),
        }
        opens, closes = terms.opening_window(policy)
        report["deadlines"]["case_window_opens_at"] = opens.isoformat()
        report["deadlines"]["case_window_closes_at"] = closes.isoformat()
    if order.case is not None:
        case = order.case
        report["case"] = {"case_id": case.case_id, "reason": case.reason, "state": case.state,
                          "opened_at": case.opened_at.isoformat(),
                          "close_reason": case.close_reason}
        report["deadlines"].update({
            "escalation_available_at": case.escalation_available_at(policy).isoformat(),
            "seller_response_due_at": case.seller_response_due_at(policy).isoformat(),
            "late_delivery_at": case.late_delivery_at(policy).isoformat(),
        })
    report["timeline"] = [
        {"event": record, "rule": rule,
         "cause": {"topic": topic, "partition": partition, "offset": offset,
                   "event_id": event_id},
         "decided_at": _iso(created_at), "published_at": _iso(published_at),
         "superseded_by": superseded_by}
        for record, rule, topic, partition, offset, event_id, published_at, superseded_by,
        created_at in history
    ]
    return report
