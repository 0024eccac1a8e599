"""Avro single-object encoding and the JSON form's checks."""

from __future__ import annotations

import datetime as dt

import pytest

from schemas import TOPICS
from schemas.codec import DecodeError, shared_codec
from schemas.json_form import ContractError, from_json, to_json
from tests.schemas.test_vectors import VECTORS

CANCELLED = {"event_id": "e1", "type": "OrderCancelled", "occurred_at": "2026-03-01T10:00:00Z",
             "order_id": "o1"}


def test_every_record_type_of_every_topic_has_a_schema():
    codec = shared_codec()
    for types in TOPICS.values():
        for name in types:
            assert codec.current[name].parsed["name"] == f"aliberber.cases.{name}"


def test_wire_format_is_marker_fingerprint_then_body():
    codec = shared_codec()
    record = from_json("orders", CANCELLED)
    data = codec.encode(record)
    # the fingerprint as Apache Avro's Java library computes it (vectors.json)
    expected = bytes.fromhex(VECTORS["aliberber.cases.OrderCancelled"]["fingerprint"])
    assert data[:2] == b"\xc3\x01" and data[2:10] == expected
    assert codec.decode(data) == record
    assert to_json(codec.decode(data)) == CANCELLED


@pytest.mark.parametrize(("data", "message"), [
    (b"", "empty value"),
    (b"{\"json\": true}", "no C3 01 marker"),
    (b"\xc3\x01\x00", "truncated header"),
    (b"\xc3\x01" + b"\x00" * 8 + b"abc", "unknown schema fingerprint"),
])
def test_bytes_that_are_not_our_records_are_refused(data, message):
    with pytest.raises(DecodeError, match=message):
        shared_codec().decode(data)


def test_truncated_body_and_trailing_bytes_are_refused():
    data = shared_codec().encode(from_json("orders", CANCELLED))
    with pytest.raises(DecodeError):
        shared_codec().decode(data[:-3])
    with pytest.raises(DecodeError, match="bytes after the record"):
        shared_codec().decode(data + b"\x00")


@pytest.mark.parametrize(("change", "field"), [
    ({"occurred_at": 12}, "occurred_at"),
    ({"occurred_at": "2026-03-01T10:00:00"}, "occurred_at"),
    ({"occurred_at": "1970-01-01T00:00:00Z"}, "occurred_at"),
    ({"order_id": None}, "order_id"),
    ({"order_id": ""}, "order_id"),
    ({"type": "OrderPlaced2"}, "type"),
    ({"type": "OpenCase"}, "type"),
    ({"colour": "red"}, "colour"),
])
def test_contract_errors_name_the_field(change, field):
    with pytest.raises(ContractError) as caught:
        from_json("orders", {**CANCELLED, **change})
    assert caught.value.field == field


def test_missing_field_unknown_symbol_and_bad_money_are_named():
    placed = {"event_id": "e", "type": "PaymentCaptured", "occurred_at": "2026-03-01T10:00:00Z",
              "payment_id": "p", "order_id": "o", "provider": "aliberber_payments",
              "amount": {"amount_minor": 100, "currency": "EUR"}}
    from_json("payments", placed)
    cases = [
        ({k: v for k, v in placed.items() if k != "payment_id"}, "payment_id"),
        ({**placed, "provider": "paypal"}, "provider"),
        ({**placed, "amount": {"amount_minor": 1.5, "currency": "EUR"}}, "amount.amount_minor"),
        ({**placed, "amount": {"amount_minor": -1, "currency": "EUR"}}, "amount.amount_minor"),
        ({**placed, "amount": {"amount_minor": 1, "currency": "euro"}}, "amount.currency"),
    ]
    for obj, field in cases:
        with pytest.raises(ContractError) as caught:
            from_json("payments", obj)
        assert caught.value.field == field, obj


def test_dates_and_optional_fields_round_trip():
    obj = {"event_id": "e", "type": "OrderPlaced", "occurred_at": "2026-03-01T10:00:00Z",
           "order_id": "o", "buyer_id": "b", "seller_id": "s",
           "total": {"amount_minor": 2599, "currency": "EUR"},
           "payment_method": "other",
           "shipping_address": {"name": "N", "line1": "L", "city": "C", "postal_code": "P",
                                "country": "DE"},
           "estimated_delivery": "2026-03-10"}
    record = from_json("orders", obj)
    assert record["estimated_delivery"] == dt.date(2026, 3, 10) and record["ship_by"] is None
    assert shared_codec().decode(shared_codec().encode(record)) == record
