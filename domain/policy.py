"""Every number of the case policy, with the marketplace's defaults."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Policy:
    #: how long after the start of eligibility a buyer may still open a case
    opening_window: dt.timedelta = dt.timedelta(days=100)
    #: how long a case must stay unresolved before the buyer may escalate it
    escalation_after: dt.timedelta = dt.timedelta(days=3)
    #: how long the seller has to take part before support may escalate for inactivity
    seller_response_time: dt.timedelta = dt.timedelta(days=3)
    #: how long a case may stay live before it counts as a late delivery
    late_delivery_after: dt.timedelta = dt.timedelta(days=365)
    #: how long an action is held waiting for its order before it is refused
    unknown_order_hold: dt.timedelta = dt.timedelta(hours=24)


DEFAULT_POLICY = Policy()
