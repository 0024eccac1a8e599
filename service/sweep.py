"""One pass of the time rules over every order with a deadline due (rules 1, 6, 7, 8)."""

from __future__ import annotations

import datetime as dt

from domain.policy import Policy
from service.unit_of_work import Cause, RecordedEvent, UnitOfWork

SWEEPER_TOPIC = "sweeper"


def sweep_due(uow: UnitOfWork, now: dt.datetime, policy: Policy, limit: int) -> int:
    """Sweep up to `limit` due orders; return how many were swept (the caller commits
    and calls again while it returns `limit`)."""
    orders = uow.lock_due_orders(now, limit)
    events: list[RecordedEvent] = []
    for order in orders.values():
        for event in order.sweep(now, policy):
            events.append(RecordedEvent(event, Cause(SWEEPER_TOPIC, -1, -1, event.cause_id)))
    uow.save(orders.values(), [], [], events)
    return len(orders)
