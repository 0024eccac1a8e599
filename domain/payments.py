"""Money (rule 4): captures and refunds, and the case a full refund closes.

Amounts are bounded by what is known: captures may not add up to more than the order's
total, nor refunds to more than was captured (or than the total, before any capture),
and both must be in the order's currency. A record that breaks a bound is bad input (a
dead letter), never counted. Before the order is known nothing can be checked: the
money is recorded and checked when OrderPlaced comes, in the order it happened.
"""

from __future__ import annotations

from domain.case_events import RefundRecorded
from domain.decision import Decision, InvalidRecord
from domain.order import Order, Payment, Refund
from domain.records import Money, PaymentCaptured, RefundIssued
from domain.vocabulary import CloseReason, Provider, Role, Rule


def _check_currency(order: Order, amount: Money) -> None:
    if order.currency is not None and amount.currency != order.currency:
        raise InvalidRecord(f"currency {amount.currency} differs from the order's "
                            f"{order.currency}")


def _check_capture(order: Order, amount: Money) -> None:
    _check_currency(order, amount)
    if order.terms is not None:
        total = order.terms.total.amount_minor
        if order.paid() + amount.amount_minor > total:
            raise InvalidRecord(
                f"captures would reach {order.paid() + amount.amount_minor} "
                f"{amount.currency}, more than the order's total of {total}")


def _check_refund(order: Order, amount: Money) -> None:
    _check_currency(order, amount)
    if order.terms is not None:
        bound = order.paid() or order.terms.total.amount_minor
        if order.refunded_all() + amount.amount_minor > bound:
            raise InvalidRecord(
                f"refunds would reach {order.refunded_all() + amount.amount_minor} "
                f"{amount.currency}, more than the {bound} "
                + ("captured" if order.paid() else "of the order's total"))


def check_payments(order: Order) -> list[tuple[str, str]]:
    """Check the money recorded before the order's terms were known, in the order it
    was recorded; drop what breaks a bound and return it (event_id, reason)."""
    recorded: list[Payment | Refund] = [*order.payments, *order.refunds]
    order.payments, order.refunds = [], []
    invalid = []
    for entry in recorded:
        try:
            if isinstance(entry, Payment):
                _check_capture(order, entry.amount)
                order.payments.append(entry)
            else:
                _check_refund(order, entry.amount)
                order.refunds.append(entry)
        except InvalidRecord as exc:
            invalid.append((entry.event_id, str(exc)))
    return invalid


def capture(d: Decision, payment: PaymentCaptured) -> None:
    order = d.order
    if any(p.payment_id == payment.payment_id for p in order.payments):
        return  # the same capture reported again: counted once
    _check_capture(order, payment.amount)
    order.payments.append(Payment(payment.payment_id, payment.event_id, payment.amount,
                                  payment.provider))
    # a capture seen after the refunds can make them complete
    if (payment.provider == Provider.ALIBERBER_PAYMENTS and order.case is not None
            and order.case.live and order.fully_refunded()):
        d.close(CloseReason.FULL_REFUND, payment.event_id, Rule.FULL_REFUND,
                payment.occurred_at)


def refund(d: Decision, issued: RefundIssued) -> None:
    order = d.order
    if any(r.refund_id == issued.refund_id for r in order.refunds):
        return  # the same refund reported again: counted once
    _check_refund(order, issued.amount)
    order.refunds.append(Refund(issued.refund_id, issued.event_id, issued.amount,
                                issued.provider, issued.occurred_at))
    if issued.initiated_by == Role.SELLER:
        d.seller_took_part(issued.occurred_at)
    if issued.provider != Provider.ALIBERBER_PAYMENTS:
        return  # refunds through other providers never close a case
    if order.case is None or not order.case.live:
        return
    full = order.fully_refunded()
    d.emit(RefundRecorded, issued.event_id, Rule.REFUND, issued.occurred_at,
           amount=issued.amount, refunded_total=order.refunded_total(), full=full)
    if full:
        d.close(CloseReason.FULL_REFUND, issued.event_id, Rule.FULL_REFUND,
                issued.occurred_at)
