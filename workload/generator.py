"""A seeded stream of inbound records that looks like a marketplace's traffic.

Every order places, captures a payment, mostly ships with several carrier updates and
sometimes exchanges messages; about one order in seven opens a case, which then ends in
one of the ways the policy allows (refunds, escalation, buyer close, proof of delivery,
support) or stays open for a later sweep. A few actions are refused by the rules (wrong
actor, too early, ...): those are ActionRejected, not bad input. No record is malformed.

Each order's life is drawn from its own random stream, seeded by the seed and the order's
index, so `generate(seed, n)` is deterministic and its first k orders are the same for
any n >= k. Ids include the seed, so two seeds never share an order, a parcel or an
event. Records are returned in publish order: by `occurred_at`, so each order's records
keep their time order within a topic while the topics interleave.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass
from typing import Any

from schemas import record_key

#: where the default stream starts; fixed so a seed always means the same records
DEFAULT_START = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)
#: seconds between two orders being placed (about 2,900 orders a day)
ORDER_SPACING = 30

DAY, HOUR, MINUTE = 86_400, 3_600, 60

#: country, currency, cities with a postal code pattern ('9' = a digit, 'A' = a letter)
_COUNTRIES: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    ("FR", "EUR", (("Paris", "75099"), ("Lyon", "69009"), ("Lille", "59999"))),
    ("DE", "EUR", (("Berlin", "10999"), ("Hamburg", "20999"), ("München", "80999"))),
    ("ES", "EUR", (("Madrid", "28099"), ("Sevilla", "41099"))),
    ("IT", "EUR", (("Roma", "00199"), ("Milano", "20199"))),
    ("NL", "EUR", (("Amsterdam", "1099 AA"), ("Utrecht", "3599 AA"))),
    ("GB", "GBP", (("London", "SW9 9AA"), ("Leeds", "LS9 9AA"))),
    ("PL", "PLN", (("Warszawa", "00-999"), ("Kraków", "30-999"))),
    ("US", "USD", (("Austin", "78799"), ("Portland", "97299"))),
)
_STREETS = ("Main Street", "Rue de la Paix", "Hauptstraße", "Calle Mayor", "Via Roma",
            "Kerkstraat", "High Street", "ulica Długa", "Oak Avenue", "Station Road")
_NAMES = ("Ada", "Ben", "Chloé", "Dário", "Emma", "Farid", "Greta", "Hugo", "Ines", "Jan",
          "Kasia", "Luca", "Mia", "Noah", "Olga", "Pablo")
_SURNAMES = ("Martin", "Müller", "García", "Rossi", "de Vries", "Smith", "Nowak", "Brown")
_CARRIERS = ("dhl", "ups", "dpd", "gls", "laposte", "royalmail", "usps", "inpost")
_BIG_SELLERS = 50  # a fifth of the orders go to a few large sellers
_SMALL_SELLERS = 20_000
_BUYERS = 2_000_000


@dataclass(frozen=True)
class Published:
    """One record to produce: its topic, its key and the record the codec encodes."""

    topic: str
    key: str
    record: dict[str, Any]


def generate(seed: int, orders: int, start: dt.datetime | None = None) -> list[Published]:
    """The records of `orders` orders, in publish order."""
    if orders < 0:
        raise ValueError("orders must not be negative")
    start = start or DEFAULT_START
    entries: list[tuple[dt.datetime, int, int, str, dict[str, Any]]] = []
    for index in range(orders):
        life = _OrderLife(seed, index, start)
        entries += [(at, index, n, topic, record)
                    for n, (at, topic, record) in enumerate(life.records)]
    # (time, order, position in its life): a total order, so each order's records of one
    # topic, generated in time order, stay in that order
    entries.sort(key=lambda e: e[:3])
    return [Published(topic, record_key(topic, record), record)
            for _, _, _, topic, record in entries]


def _end_of_day(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


def _fill(rng: random.Random, pattern: str) -> str:
    return "".join(str(rng.randrange(10)) if c == "9"
                   else chr(65 + rng.randrange(26)) if c == "A" else c for c in pattern)


class _OrderLife:
    """The records of one order, drawn from its own random stream."""

    def __init__(self, seed: int, index: int, start: dt.datetime) -> None:
        self.rng = random.Random(f"order-cases-workload/{seed}/{index}")
        self.seed, self.index = seed, index
        self.order_id = f"ord-{seed}-{index:07d}"
        self.records: list[tuple[dt.datetime, str, dict[str, Any]]] = []
        self.t0 = start + dt.timedelta(seconds=index * ORDER_SPACING
                                       + self.rng.randrange(ORDER_SPACING))
        self._plan()

    # ---- building blocks ---------------------------------------------------------------

    def _at(self, seconds: int) -> dt.datetime:
        return self.t0 + dt.timedelta(seconds=seconds)

    def _add(self, topic: str, at: dt.datetime, record_type: str, **fields: Any) -> None:
        event_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        self.records.append((at, topic, {"event_id": event_id, "type": record_type,
                                         "occurred_at": at, **fields}))

    def _money(self, amount: int) -> dict[str, Any]:
        return {"amount_minor": amount, "currency": self.currency}

    def _action(self, at: dt.datetime, record_type: str, role: str = "buyer",
                actor: str | None = None, **fields: Any) -> None:
        actor = actor or {"buyer": self.buyer, "seller": self.seller}.get(role, "agent-7")
        self._add("case-actions", at, record_type, order_id=self.order_id, actor_id=actor,
                  actor_role=role, **fields)

    def _support(self, at: dt.datetime, action: str, reason: str) -> None:
        agent = f"agent-{self.rng.randrange(1, 40)}"
        self._action(at, "SupportAction", "support", agent, action=action, reason=reason)

    def _message(self, at: dt.datetime, role: str, kind: str = "message") -> None:
        sender = self.buyer if role == "buyer" else self.seller
        body = self.rng.choice(("Hello, any news?", "Thanks!", "Shipped today.",
                                "Where is my parcel?", "It arrived damaged."))
        self._add("messages", at, "MessageSent", order_id=self.order_id, sender_id=sender,
                  sender_role=role, kind=kind, body=body)

    def _refund(self, at: dt.datetime, amount: int, by: str = "seller",
                provider: str | None = None) -> None:
        self.refund_count += 1
        self._add("payments", at, "RefundIssued",
                  refund_id=f"rf-{self.seed}-{self.index}-{self.refund_count}",
                  order_id=self.order_id, amount=self._money(amount),
                  provider=provider or self.provider, initiated_by=by)
        self.refunded += amount

    def _tracking(self, at: dt.datetime, status: str,
                  delivered_to: dict[str, Any] | None = None) -> None:
        self._add("carrier-tracking", at, "TrackingUpdated", carrier=self.carrier,
                  tracking_number=self.tracking_number, status=status,
                  delivered_to=delivered_to)

    # ---- the order's life --------------------------------------------------------------

    def _plan(self) -> None:
        rng = self.rng
        country, self.currency, cities = rng.choice(_COUNTRIES)
        city, postal = rng.choice(cities)
        self.address = {"name": f"{rng.choice(_NAMES)} {rng.choice(_SURNAMES)}",
                        "line1": f"{rng.randrange(1, 200)} {rng.choice(_STREETS)}",
                        "line2": f"Flat {rng.randrange(1, 30)}" if rng.random() < 0.2
                        else None,
                        "city": city, "region": None, "postal_code": _fill(rng, postal),
                        "country": country}
        self.total = rng.randrange(5, 400) * 100 + rng.choice((0, 49, 99))
        self.provider = "aliberber_payments" if rng.random() < 0.9 else "other"
        self.carrier = rng.choice(_CARRIERS)
        self.tracking_number = f"{self.carrier[:2].upper()}{self.seed}X{self.index:08d}"
        self.refunded = self.refund_count = 0
        self.buyer = f"buyer-{self.seed}-{rng.randrange(_BUYERS)}"
        fate = self._fate()
        will_open = fate != "cancelled" and rng.random() < (
            0.04 if fate == "delivered" else 0.8 if fate == "misdelivered" else 0.65)
        outcome = self._outcome(fate) if will_open else None
        # a suspended seller's standing is shared by all its orders: give those cases a
        # seller of their own so no other order's events depend on the race
        self.seller = (f"seller-{self.seed}-solo-{self.index}" if outcome == "suspension"
                       else f"seller-{self.seed}-{rng.randrange(_BIG_SELLERS)}"
                       if rng.random() < 0.2
                       else f"seller-{self.seed}-{_BIG_SELLERS + rng.randrange(_SMALL_SELLERS)}")
        self.estimated_delivery = (self.t0 + dt.timedelta(days=rng.randrange(5, 10))).date()
        ship_by = (self.t0 + dt.timedelta(days=2)).date()
        with_estimate = rng.random() < 0.95

        self._add("orders", self.t0, "OrderPlaced", order_id=self.order_id,
                  buyer_id=self.buyer, seller_id=self.seller, total=self._money(self.total),
                  payment_method=self.provider, shipping_address=self.address,
                  ship_by=ship_by, estimated_delivery=self.estimated_delivery
                  if with_estimate else None)
        if not with_estimate:  # the case window then starts at the end of the ship-by date
            self.estimated_delivery = ship_by
        self._add("payments", self._at(rng.randrange(5, 3 * MINUTE)), "PaymentCaptured",
                  payment_id=f"pay-{self.seed}-{self.index}", order_id=self.order_id,
                  amount=self._money(self.total), provider=self.provider)
        if rng.random() < 0.25:  # a question to the seller and its answer
            asked = rng.randrange(HOUR, 3 * DAY)
            self._message(self._at(asked), "buyer")
            self._message(self._at(asked + rng.randrange(HOUR, 10 * HOUR)), "seller")
        if fate == "cancelled":
            self._cancelled()
            return
        delivered_at = self._shipping(fate)
        if will_open:
            assert outcome is not None
            self._case(fate, outcome, delivered_at)
        elif rng.random() < 0.02:  # a problem reported through messages, no case
            self._message(self._at(rng.randrange(4 * DAY, 9 * DAY)), "buyer", "problem_report")

    def _fate(self) -> str:
        roll = self.rng.random()
        for fate, share in (("cancelled", 0.03), ("unshipped", 0.03), ("lost", 0.05),
                            ("late", 0.05), ("misdelivered", 0.02)):
            if roll < share:
                return fate
            roll -= share
        return "delivered"

    def _outcome(self, fate: str) -> str:
        rng = self.rng
        if fate in ("late", "delivered") and rng.random() < 0.35:
            return "proof_of_delivery"  # the seller shows tracking; delivery closes it
        return rng.choices(
            ("full_refund", "partial_then_full", "partial_then_close", "buyer_escalates",
             "support_escalates", "buyer_closes", "stays_open", "reopened", "suspension"),
            (18, 8, 6, 14, 7, 15, 26, 4, 2))[0]

    def _cancelled(self) -> None:
        rng = self.rng
        cancelled_at = rng.randrange(HOUR, 20 * HOUR)
        self._add("orders", self._at(cancelled_at), "OrderCancelled", order_id=self.order_id)
        if rng.random() < 0.8:
            self._refund(self._at(cancelled_at + rng.randrange(HOUR, DAY)), self.total)
        if rng.random() < 0.2:  # refused: the order was cancelled
            self._action(_end_of_day(self.estimated_delivery)
                         + dt.timedelta(seconds=rng.randrange(HOUR, 3 * DAY)), "OpenCase",
                         reason="non_delivery", description="Never got it.")

    def _shipping(self, fate: str) -> dt.datetime | None:
        """Ship and track the parcel; return when it was delivered, if it was."""
        rng = self.rng
        if fate == "unshipped":
            return None
        shipped = rng.randrange(4 * HOUR, 40 * HOUR)
        self._add("orders", self._at(shipped), "OrderShipped", order_id=self.order_id,
                  carrier=self.carrier, tracking_number=self.tracking_number)
        self._tracking(self._at(shipped + rng.randrange(MINUTE, HOUR)), "label_created")
        moving = shipped + rng.randrange(6 * HOUR, 30 * HOUR)
        self._tracking(self._at(moving), "in_transit")
        if fate == "lost":
            if rng.random() < 0.5:
                self._tracking(self._at(moving + rng.randrange(DAY, 4 * DAY)), "exception")
            return None
        due = int((_end_of_day(self.estimated_delivery) - self.t0).total_seconds())
        arrives = (rng.randrange(moving + 12 * HOUR, max(due, moving + 13 * HOUR))
                   if fate != "late" else due + rng.randrange(5 * DAY, 20 * DAY))
        if rng.random() < 0.6:
            self._tracking(self._at(arrives - rng.randrange(HOUR, 6 * HOUR)),
                           "out_for_delivery")
        if fate == "misdelivered":
            place = {**self.address, "line1": f"{rng.randrange(200, 400)} Other Road"}
        else:  # carriers write addresses their own way: still the same address
            place = {**self.address, "line1": self.address["line1"].upper().replace(" ", ", ", 1)}
        self._tracking(self._at(arrives), "delivered", place)
        return self._at(arrives)

    def _case(self, fate: str, outcome: str, delivered_at: dt.datetime | None) -> None:
        rng = self.rng
        window_opens = _end_of_day(self.estimated_delivery)
        reason = ("not_as_described" if fate == "delivered" and outcome != "proof_of_delivery"
                  else "non_delivery")
        opened = window_opens + dt.timedelta(seconds=rng.randrange(HOUR, 6 * DAY))
        if delivered_at is not None and reason == "not_as_described":
            opened = max(opened, delivered_at + dt.timedelta(hours=2))
        if rng.random() < 0.3:
            self._message(opened - dt.timedelta(seconds=rng.randrange(HOUR, DAY)), "buyer",
                          "problem_report")
        if rng.random() < 0.03:  # refused: before the estimated delivery date has passed
            self._action(window_opens - dt.timedelta(hours=rng.randrange(2, 20)), "OpenCase",
                         reason=reason, description="Still nothing.")
        if rng.random() < 0.01:  # refused: far too late, and the buyer gives up
            self._action(window_opens + dt.timedelta(days=rng.randrange(101, 130)),
                         "OpenCase", reason=reason, description="Forgot about it.")
            return
        self._action(opened, "OpenCase", reason=reason,
                     description="It never arrived." if reason == "non_delivery"
                     else "Not what the listing showed.")
        step = _Clock(opened, rng)
        if fate == "misdelivered" and rng.random() < 0.6:  # proof that does not close it
            self._proof_of_delivery(step, delivered_at)
        if rng.random() < 0.1:
            self._refused_action(step)
        getattr(self, f"_{outcome}")(step, delivered_at)

    def _refused_action(self, step: _Clock) -> None:
        """One action the rules refuse (ActionRejected), before the case's outcome."""
        kind = self.rng.randrange(5)
        if kind == 0:
            self._action(step.next(HOUR, DAY), "EscalateCase")  # too early
        elif kind == 1:  # the seller tries the buyer's button
            self._action(step.next(HOUR, DAY), "CloseCase", actor=self.seller)
        elif kind == 2:
            self._action(step.next(HOUR, DAY), "AddTracking", carrier=self.carrier,
                         tracking_number=self.tracking_number, proof="tracking")
        elif kind == 3:  # only support may
            self._action(step.next(HOUR, DAY), "SupportAction", action="escalate",
                         reason="integrity")
        else:
            self._action(step.next(HOUR, DAY), "OpenCase", reason="non_delivery",
                         description="Opened twice.")

    # ---- how cases end -------------------------------------------------------------------

    def _proof_of_delivery(self, step: _Clock, delivered_at: dt.datetime | None) -> None:
        self._action(step.next(2 * HOUR, 2 * DAY), "AddTracking", "seller",
                     carrier=self.carrier, tracking_number=self.tracking_number,
                     proof=self.rng.choice(("tracking", "delivery_confirmation")))

    def _full_refund(self, step: _Clock, _delivered_at: dt.datetime | None) -> None:
        self._refund(step.next(HOUR, 3 * DAY), self.total)

    def _partial_then_full(self, step: _Clock, _delivered_at: dt.datetime | None) -> None:
        part = self.total // self.rng.choice((2, 3, 4))
        self._refund(step.next(HOUR, 2 * DAY), part)
        self._refund(step.next(HOUR, 3 * DAY), self.total - part)

    def _partial_then_close(self, step: _Clock, _delivered_at: dt.datetime | None) -> None:
        self._refund(step.next(HOUR, 2 * DAY), self.total // 5)
        self._action(step.next(HOUR, 2 * DAY), "CloseCase")

    def _buyer_escalates(self, step: _Clock, _delivered_at: dt.datetime | None) -> None:
        if self.rng.random() < 0.5:
            self._message(step.next(HOUR, DAY), "seller")  # the seller answers, too late
        step.at_least(3 * DAY + MINUTE)  # the buyer may escalate three days after opening
        self._action(step.next(HOUR, 2 * DAY), "EscalateCase")
        if self.rng.random() < 0.65:
            self._support(step.next(2 * HOUR, DAY), "refund_and_recoup", "integrity")
            self._refund(step.next(HOUR, DAY), self.total - self.refunded, "support",
                         "aliberber_payments")
        else:
            self._support(step.next(2 * HOUR, DAY), "close", "integrity")

    def _support_escalates(self, step: _Clock, _delivered_at: dt.datetime | None) -> None:
        self._support(step.next(HOUR, DAY), "escalate",
                      self.rng.choice(("tracking_investigation", "refusal_of_service")))
        self._support(step.next(HOUR, 2 * DAY), "close", "integrity")

    def _buyer_closes(self, step: _Clock, _delivered_at: dt.datetime | None) -> None:
        if self.rng.random() < 0.5:
            self._message(step.next(HOUR, DAY), "seller")
        self._action(step.next(HOUR, 3 * DAY), "CloseCase")

    def _stays_open(self, step: _Clock, _delivered_at: dt.datetime | None) -> None:
        """Nothing ends it: a sweep far in the future escalates it (seller inactivity,
        unless the seller answered) and marks it late."""
        if self.rng.random() < 0.5:
            self._message(step.next(HOUR, 2 * DAY), "seller")

    def _reopened(self, step: _Clock, _delivered_at: dt.datetime | None) -> None:
        self._support(step.next(HOUR, DAY), "escalate", "tracking_investigation")
        self._support(step.next(HOUR, DAY), "close", "integrity")
        self._support(step.next(HOUR, 2 * DAY), "reopen", "case_manipulation")
        self._support(step.next(HOUR, 2 * DAY), "close", "integrity")

    def _suspension(self, step: _Clock, _delivered_at: dt.datetime | None) -> None:
        self._support(step.next(HOUR, DAY), "suspend_seller", "harassment")
        self._action(step.next(HOUR, 2 * DAY), "CloseCase")  # SellerReinstatementEligible
        self._support(step.next(HOUR, 2 * DAY), "reinstate_seller", "harassment")


class _Clock:
    """The moments of a case's steps: each after the one before."""

    def __init__(self, opened: dt.datetime, rng: random.Random) -> None:
        self.opened = self.now = opened
        self.rng = rng

    def next(self, low: int, high: int) -> dt.datetime:
        self.now += dt.timedelta(seconds=self.rng.randrange(low, high))
        return self.now

    def at_least(self, seconds_after_opening: int) -> None:
        self.now = max(self.now, self.opened + dt.timedelta(seconds=seconds_after_opening))
