"""Traffic of the moment, for latency: orders placed now, some of which open a case that
runs its course within a second or two (partial refund, the seller's answer, tracking,
the rest of the refund). Every record is due at its own moment, and is to be published
then: it reaches Kafka within the allowed lateness of when it happened, as upstream
services' records do, so the watermark passes it an allowed lateness after it happened.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass
from typing import Any

from schemas import record_key
from workload.generator import Published

#: the share of orders that open a case
CASES = 0.5
#: the steps of a case, in seconds after its order was placed
OPENED, PART_REFUND, ANSWER, TRACKING, REST_REFUND = 0.2, 0.4, 0.6, 0.8, 1.0


@dataclass(frozen=True)
class Due:
    """A record, and its moment: when it happened, and so when to publish it."""

    at: dt.datetime
    item: Published


def stream(seed: int, rate: float, seconds: float, start: dt.datetime) -> list[Due]:
    """About `rate` records a second for `seconds` from `start`, in time order."""
    rng = random.Random(f"order-cases-live/{seed}")
    per_order = 2 + CASES * 5
    orders = max(1, int(rate * seconds / per_order))
    due: list[Due] = []
    for index in range(orders):
        placed_at = start + dt.timedelta(seconds=index * seconds / orders)
        due += _life(rng, seed, index, placed_at)
    return sorted(due, key=lambda d: d.at)


def _life(rng: random.Random, seed: int, index: int, placed_at: dt.datetime) -> list[Due]:
    order_id, buyer, seller = (f"live-{seed}-{index:07d}", f"lb-{seed}-{index}",
                               f"ls-{seed}-{rng.randrange(500)}")
    total = rng.randrange(1000, 20000)
    yesterday = (placed_at - dt.timedelta(days=1)).date()
    out: list[Due] = []

    def add(topic: str, after: float, **fields: Any) -> None:
        at = placed_at + dt.timedelta(seconds=after)
        record = {"event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                  "occurred_at": at, "order_id": order_id, **fields}
        out.append(Due(at, Published(topic, record_key(topic, record), record)))

    money = {"amount_minor": total, "currency": "EUR"}
    add("orders", 0.0, type="OrderPlaced", buyer_id=buyer, seller_id=seller, total=money,
        payment_method="aliberber_payments",
        shipping_address={"name": "Live Buyer", "line1": f"{index} Live Street",
                          "city": "Paris", "postal_code": "75001", "country": "FR",
                          "line2": None, "region": None},
        ship_by=None, estimated_delivery=yesterday)
    add("payments", 0.01, type="PaymentCaptured", payment_id=f"lp-{seed}-{index}",
        amount=money, provider="aliberber_payments")
    if rng.random() >= CASES:
        return out
    part = total // 3
    add("case-actions", OPENED, type="OpenCase", actor_id=buyer, actor_role="buyer",
        reason="non_delivery", description="Not here yet.")
    add("payments", PART_REFUND, type="RefundIssued", refund_id=f"lr-{seed}-{index}-1",
        amount={"amount_minor": part, "currency": "EUR"}, provider="aliberber_payments",
        initiated_by="seller")
    add("messages", ANSWER, type="MessageSent", sender_id=seller, sender_role="seller",
        kind="message", body="On its way.")
    add("case-actions", TRACKING, type="AddTracking", actor_id=seller, actor_role="seller",
        carrier="laposte", tracking_number=f"LT-{seed}-{index}", proof="tracking")
    add("payments", REST_REFUND, type="RefundIssued", refund_id=f"lr-{seed}-{index}-2",
        amount={"amount_minor": total - part, "currency": "EUR"},
        provider="aliberber_payments", initiated_by="seller")
    return out
