"""The integration tests' clock: their records keep the dates they are written with
(March 2026), and are moved, all by the same amount, to where the service under test
decides them at once but leaves their deadlines to `cases sweep --now`.

The service under test runs with an allowed lateness of LATENESS (7 days), so its
watermark stays that far behind the wall clock. A record written at ANCHOR (the latest
moment most tests use) reaches the service an hour behind the watermark: it and
everything before it are decided as soon as they are read, while the deadlines that
follow them (escalation 3 days after an opening, say) lie ahead of the watermark, and
fire only when a test sweeps past them (`cases sweep --now`, which tests give in March
2026 too: `moved`). Records up to LATENESS after ANCHOR are still in the wall clock's
past, so the service takes them; they are decided once a sweep passes them.

Times are moved exactly; dates (ship_by, estimated_delivery) by whole days, never more
than the times, so an order's opening window starts no later relative to its records.
Reading events back, `restored` moves their times back, so tests compare them with the
dates they wrote. (The watermark itself, with the default lateness and records of the
moment, is what tests/integration/test_decisions_stand.py exercises.)
"""

from __future__ import annotations

import datetime as dt
from typing import Any

LATENESS = dt.timedelta(days=7)
ANCHOR = dt.datetime(2026, 3, 13, 10, 0, tzinfo=dt.UTC)
SHIFT = (dt.datetime.now(dt.UTC).replace(microsecond=0) - LATENESS - dt.timedelta(hours=1)
         - ANCHOR)
DATE_SHIFT = dt.timedelta(days=SHIFT.days)

#: fields of inbound records and case events that hold a moment or a date
TIME_FIELDS = ("occurred_at", "escalation_available_at", "seller_response_due_at",
               "late_delivery_at", "window_opens_at", "window_closes_at")
DATE_FIELDS = ("ship_by", "estimated_delivery")


def moved(text: str) -> str:
    """A moment written by a test (ISO 8601, e.g. for `cases sweep --now`), moved; text
    that is no moment (a test of a bad argument) as it is."""
    try:
        at = dt.datetime.fromisoformat(text.replace("Z", "+00:00")) + SHIFT
    except ValueError:
        return text
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def move_record(record: dict[str, Any], sign: int = 1) -> dict[str, Any]:
    """A record as the codec takes it (datetimes and dates), moved (or back, sign -1)."""
    out = dict(record)
    for name in TIME_FIELDS:
        if isinstance(out.get(name), dt.datetime):
            out[name] = out[name] + sign * SHIFT
    for name in DATE_FIELDS:
        if isinstance(out.get(name), dt.date):
            out[name] = out[name] + sign * DATE_SHIFT
    return out


def move_json(record: dict[str, Any], sign: int = 1) -> dict[str, Any]:
    """A record in JSON form (ISO strings), moved (or back)."""
    out = dict(record)
    for name in TIME_FIELDS:
        if isinstance(out.get(name), str):
            at = dt.datetime.fromisoformat(out[name].replace("Z", "+00:00")) + sign * SHIFT
            out[name] = at.isoformat().replace("+00:00", "Z")  # as schemas.json_form writes
    for name in DATE_FIELDS:
        if isinstance(out.get(name), str):
            out[name] = (dt.date.fromisoformat(out[name]) + sign * DATE_SHIFT).isoformat()
    return out


def restored(record: dict[str, Any]) -> dict[str, Any]:
    """A case event read back (JSON form), its times as the test wrote them."""
    return move_json(record, -1)
