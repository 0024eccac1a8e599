"""An order's row: its terms (what OrderPlaced said, set once) in a column of their own,
beside the state the rules keep changing (payments, parcels, case, how far decided).

Each decision rewrites the state; the terms column is left as it was, so PostgreSQL's
WAL record of the update does not carry them again (an updated row on the same page is
logged without the bytes it shares with the old one at either end, and the terms are
the row's last column)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain.order import Order, OrderTerms
from storage import state_json
from storage.transaction import dumps


def order_from_row(order_id: str, terms: dict[str, Any] | None,
                   state: dict[str, Any]) -> Order:
    """The order its row holds; a row inserted for an order not decided yet holds `{}`."""
    if not state:
        return Order(order_id)
    order: Order = state_json.from_json(Order, state if terms is None
                                        else {**state, "terms": terms})
    return order


@dataclass(frozen=True)
class OrderRow:
    #: whether the row's terms are the order's: the column is then left as it is
    terms_kept: bool
    #: the terms' JSON, when they are to be written (None when kept, or when none)
    terms: str | None
    #: the state's JSON, without the terms
    state: str


def row_of(order: Order, terms_as_loaded: OrderTerms | None) -> OrderRow:
    document = state_json.to_json(order)
    terms = document.pop("terms", None)
    if order.terms == terms_as_loaded:
        return OrderRow(True, None, dumps(document))
    return OrderRow(False, None if terms is None else dumps(terms), dumps(document))
