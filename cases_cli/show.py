"""`cases show ORDER_ID [--json]`: an order's case, what still waits, and its history."""

from __future__ import annotations

import json
from typing import Any

from bootstrap.database import connect
from cases_cli.errors import CommandError
from configuration import settings_from_env
from storage.views import NoSuchOrder, case_report

_COMMON = {"event_id", "type", "occurred_at", "order_id", "case_id", "buyer_id", "seller_id",
           "state"}


def show(order_id: str, as_json: bool) -> int:
    settings = settings_from_env(need_kafka=False)
    with connect(settings, "order-cases.cases-show") as conn:
        try:
            report = case_report(conn, order_id, settings.policy)
        except NoSuchOrder as exc:
            raise CommandError(str(exc)) from None
    print(json.dumps(report, indent=2) if as_json else human(report))
    return 0


def human(report: dict[str, Any]) -> str:
    lines = [f"order {report['order_id']}"]
    order = report["order"]
    if order is None:
        lines.append("  not placed yet (OrderPlaced not decided)")
    else:
        total = order["total"]
        lines.append(f"  buyer {order['buyer_id']}, seller {order['seller_id']}, total "
                     f"{total['amount_minor']} {total['currency']} ({order['payment_method']})"
                     + (", cancelled" if order["cancelled"] else ""))
    case = report["case"]
    if case is None:
        lines.append("case: none")
    else:
        closed = f" ({case['close_reason']})" if case["close_reason"] else ""
        lines.append(f"case {case['case_id']}: {case['state'].upper()}{closed}, "
                     f"{case['reason']}, opened {case['opened_at']}")
    if report["held_actions"]:
        lines.append(f"held actions waiting for the order: {report['held_actions']}")
    waiting = report["waiting_for_watermark"]
    mark = report["watermark"]
    lines.append(f"watermark: {mark['low'] if mark else 'none yet'}"
                 + (f" (held by {', '.join(mark['held_by'])})" if mark and mark["held_by"]
                    else ""))
    lines.append(f"decided through: {report['decided_through'] or '-'}")
    if waiting["records"]:
        lines.append(f"records waiting for the watermark: {waiting['records']} "
                     f"(the earliest from {waiting['earliest']})")
    if report["deadlines"]:
        lines.append("deadlines:")
        lines += [f"  {name.replace('_', ' ')}: {at}" for name, at in report["deadlines"].items()]
    lines.append("timeline (event time):")
    for step in report["timeline"]:
        event, cause = step["event"], step["cause"]
        details = ", ".join(f"{k}={json.dumps(v)}" for k, v in event.items()
                            if k not in _COMMON and v is not None)
        where = ("time rule" if cause["topic"] == "sweeper"
                 else f"{cause['topic']}[{cause['partition']}]@{cause['offset']}")
        lines.append(f"  {event['occurred_at']}  {event['type']:<27} state={event['state']}"
                     + (f"  {details}" if details else ""))
        published = step["published_at"] or "not yet"
        lines.append(f"      by {step['rule']}; cause {where} event {cause['event_id']}; "
                     f"published {published}"
                     + (f"; superseded by {step['superseded_by']}" if step["superseded_by"]
                        else ""))
    if not report["timeline"]:
        lines.append("  (no case events)")
    return "\n".join(lines)
