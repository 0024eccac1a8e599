"""Orders: placing, shipping, cancelling (what waited for the order is released by the
timeline once it is placed)."""

from __future__ import annotations

from domain.decision import Decision, InvalidRecord
from domain.order import OrderTerms, ProofOfShipping
from domain.payments import check_payments
from domain.records import OrderCancelled, OrderPlaced, OrderShipped


def place(d: Decision, placed: OrderPlaced) -> None:
    order = d.order
    if order.terms is not None:
        raise InvalidRecord(f"order {order.order_id} was already placed by record "
                            f"{order.placed_by}; a second OrderPlaced is not allowed")
    order.terms = OrderTerms(
        buyer_id=placed.buyer_id, seller_id=placed.seller_id, total=placed.total,
        payment_method=placed.payment_method, shipping_address=placed.shipping_address,
        placed_at=placed.occurred_at, ship_by=placed.ship_by,
        estimated_delivery=placed.estimated_delivery)
    order.placed_by = placed.event_id
    # money recorded before the order was known is checked against its terms now
    d.invalid += check_payments(order)


def ship(d: Decision, shipped: OrderShipped) -> None:
    d.order.shipments.append(
        ProofOfShipping(shipped.carrier, shipped.tracking_number, "tracking"))


def cancel(d: Decision, _cancelled: OrderCancelled) -> None:
    d.order.cancelled = True
