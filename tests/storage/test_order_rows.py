"""An order's row: the terms in a column of their own, written only when they are not
the ones the row holds; the state without them; both read back into the same order."""

from __future__ import annotations

import dataclasses

import orjson

from domain.order import Order
from domain.records import Money
from storage.order_rows import order_from_row, row_of
from tests.storage.test_state_json import sample_order


def _read_back(order: Order, terms_json: str | None, state_json: str) -> Order:
    terms = orjson.loads(terms_json) if terms_json is not None else None
    return order_from_row(order.order_id, terms, orjson.loads(state_json))


def test_the_state_leaves_the_terms_out_and_the_row_reads_back_whole() -> None:
    order = sample_order()
    row = row_of(order, None)
    assert not row.terms_kept and row.terms is not None
    assert "terms" not in orjson.loads(row.state)
    assert orjson.loads(row.terms)["seller_id"] == "s1"
    assert _read_back(order, row.terms, row.state) == order


def test_terms_the_row_holds_are_not_written_again() -> None:
    order = sample_order()
    loaded = dataclasses.replace(order.terms)  # equal, read back from the row
    row = row_of(order, loaded)
    assert row.terms_kept and row.terms is None
    # the column keeps what it held: the terms as first written
    column = row_of(order, None).terms
    assert _read_back(order, column, row.state) == order


def test_terms_other_than_the_rows_are_written() -> None:
    order = sample_order()
    assert order.terms is not None
    before = dataclasses.replace(order.terms, total=Money(100, "EUR"))
    row = row_of(order, before)
    assert not row.terms_kept
    assert orjson.loads(row.terms or "null")["total"] == {"amount_minor": 2599,
                                                          "currency": "EUR"}


def test_an_order_without_terms_clears_the_column_its_row_had() -> None:
    order = dataclasses.replace(sample_order(), terms=None)
    row = row_of(order, sample_order().terms)
    assert (row.terms_kept, row.terms) == (False, None)


def test_a_row_inserted_for_an_order_not_decided_yet_is_an_empty_order() -> None:
    assert order_from_row("o-9", None, {}) == Order("o-9")
