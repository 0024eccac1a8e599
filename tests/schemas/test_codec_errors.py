"""What the codec and the contract checks say about bad records: the field, and why."""

from __future__ import annotations

import copy
import datetime as dt
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from fastavro import schemaless_writer
from fastavro.schema import fingerprint, to_parsing_canonical_form

from schemas.codec import AVRO_DIR, Codec, DecodeError, shared_codec
from schemas.json_form import ContractError, check_contract, from_json

OPENED = {"event_id": "e1", "type": "OpenCase", "occurred_at": "2026-03-12T09:00:00Z",
          "order_id": "o1", "actor_id": "b1", "actor_role": "buyer", "reason": "non_delivery",
          "description": "never came"}
PLACED = {"event_id": "e2", "type": "OrderPlaced", "occurred_at": "2026-03-01T10:00:00Z",
          "order_id": "o1", "buyer_id": "b1", "seller_id": "s1",
          "total": {"amount_minor": 2599, "currency": "EUR"}, "payment_method": "other",
          "shipping_address": {"name": "N", "line1": "L", "city": "C", "postal_code": "75002",
                               "country": "FR"}}


def _retired(change: Any) -> dict[str, Any]:
    schema = copy.deepcopy(shared_codec().current["OpenCase"].parsed)
    change(schema)
    return schema


def _written_by(schema: dict[str, Any], record: dict[str, Any]) -> bytes:
    canonical = to_parsing_canonical_form(schema)
    body = io.BytesIO()
    schemaless_writer(body, schema, record)
    return b"\xc3\x01" + bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO")) + body.getvalue()


@pytest.fixture
def codec_with_history(tmp_path: Path) -> tuple[Codec, dict[str, dict[str, Any]]]:
    """A codec that knows two retired OpenCase schemas no current one can read: one
    without `description` (no default), one with a reason symbol since dropped."""
    avro = tmp_path / "avro"
    shutil.copytree(AVRO_DIR, avro)
    (avro / "history").mkdir(exist_ok=True)

    def drop_description(schema: dict[str, Any]) -> None:
        schema["fields"] = [f for f in schema["fields"] if f["name"] != "description"]

    def extra_reason(schema: dict[str, Any]) -> None:
        next(f for f in schema["fields"] if f["name"] == "reason")["type"]["symbols"].append(
            "changed_mind")

    retired = {"no description": _retired(drop_description),
               "extra reason": _retired(extra_reason)}
    for n, schema in enumerate(retired.values()):
        (avro / "history" / f"aliberber.cases.OpenCase.v{n}.avsc").write_text(
            json.dumps(schema))
    return Codec(avro), retired


def test_a_retired_writer_schema_lacking_a_required_field_is_named(codec_with_history):
    codec, retired = codec_with_history
    record = from_json("case-actions", OPENED)
    data = _written_by(retired["no description"], record)
    with pytest.raises(DecodeError, match=r"cannot read OpenCase written with retired schema "
                                          r"[0-9a-f]{16} as the current one: No default value "
                                          r"for field description"):
        codec.decode(data)


def test_a_retired_enum_symbol_is_named(codec_with_history):
    codec, retired = codec_with_history
    record = {**from_json("case-actions", OPENED), "reason": "changed_mind"}
    with pytest.raises(DecodeError, match="changed_mind not found in reader symbol list"):
        codec.decode(_written_by(retired["extra reason"], record))


def test_a_body_cut_inside_a_nested_record_names_the_nested_field():
    data = shared_codec().encode(from_json("orders", PLACED))
    cut = data[:data.index(b"75002") + 2]  # inside the postal code
    with pytest.raises(DecodeError) as caught:
        shared_codec().decode(cut)
    assert str(caught.value) == (
        "cannot decode OrderPlaced body at field shipping_address.postal_code: its length, "
        "5 bytes, runs past the end of the body (truncated, or written without it)")


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"description": "a\x00b"}, "description", "contains a NUL character (U+0000)"),
    ({"order_id": "o" * 129}, "order_id",
     "is 129 characters long, more than the 128 an id may have"),
    ({"occurred_at": dt.datetime(2100, 1, 1, tzinfo=dt.UTC)}, "occurred_at",
     "2100-01-01T00:00:00+00:00 is outside 2000-01-01 to 2100-01-01"),
])
def test_contract_checks_beyond_the_avro_types(change, field, message):
    record = {**from_json("case-actions", OPENED), **change}
    with pytest.raises(ContractError) as caught:
        check_contract(record)
    assert (caught.value.field, caught.value.message) == (field, message)


def test_dates_amounts_and_nested_text_are_checked():
    placed = from_json("orders", PLACED)
    cases = [
        ({"ship_by": dt.date(1999, 12, 31)}, "ship_by"),
        ({"total": {"amount_minor": 2**53, "currency": "EUR"}}, "total.amount_minor"),
        ({"shipping_address": {**placed["shipping_address"], "city": "Pa\x00ris"}},
         "shipping_address.city"),
    ]
    for change, field in cases:
        with pytest.raises(ContractError) as caught:
            check_contract({**placed, **change})
        assert caught.value.field == field, change
    check_contract({**placed, "total": {"amount_minor": 2**53 - 1, "currency": "EUR"}})


def test_a_quoted_value_is_cut_short():
    with pytest.raises(ContractError) as caught:
        from_json("payments", {"event_id": "e", "type": "PaymentCaptured",
                               "occurred_at": "2026-03-01T10:00:00Z", "payment_id": "p",
                               "order_id": "o", "provider": "aliberber_payments",
                               "amount": {"amount_minor": 1, "currency": "E" * 5000}})
    assert caught.value.field == "amount.currency"
    assert len(str(caught.value)) < 120 and "(5002 characters)" in str(caught.value)


TRACKED = {"event_id": "e3", "type": "TrackingUpdated", "occurred_at": "2026-03-12T18:00:00Z",
           "carrier": "laposte", "tracking_number": "LP1", "status": "delivered",
           "delivered_to": PLACED["shipping_address"]}


def _placed_with_dates() -> bytes:
    """OrderPlaced whose last field, estimated_delivery, is ["null", date] holding a date:
    its last 4 bytes are the branch index 1 (02) and the date (3 bytes)."""
    data = shared_codec().encode(from_json(
        "orders", {**PLACED, "ship_by": "2026-03-03", "estimated_delivery": "2026-03-10"}))
    assert data[-4] == 0x02
    return data


@pytest.mark.parametrize(("cut", "message"), [
    (lambda d: d[:-1], "estimated_delivery: the body ends inside this field (truncated, or "
                       "written without it)"),
    (lambda d: d[:-4], "estimated_delivery: the body ends inside this field, in its union "
                       "branch index (truncated, or written without it)"),
    (lambda d: d[:-4] + b"\xff", "estimated_delivery: the body ends inside this field, in its "
                                 "union branch index (truncated, or written without it)"),
    (lambda d: d[:-4] + b"\x06" + d[-3:], "estimated_delivery: union branch index 3 is out of "
                                          "range (the field is one of null, date: index 0 to 1)"),
    (lambda d: d[:-4] + b"\x81\x01" + d[-3:], "estimated_delivery: union branch index -65 is "
                                              "out of range (the field is one of null, date: "
                                              "index 0 to 1)"),
])
def test_a_union_field_cut_short_or_with_a_branch_out_of_range_is_named(cut, message):
    """Unions ([null, T]) used to fail the explanation itself: AttributeError, 'list'
    object has no attribute 'get'."""
    with pytest.raises(DecodeError) as caught:
        shared_codec().decode(cut(_placed_with_dates()))
    assert str(caught.value) == f"cannot decode OrderPlaced body at field {message}"


def test_a_record_inside_a_union_is_looked_into():
    data = shared_codec().encode(from_json("carrier-tracking", TRACKED))
    cut = data[:data.index(b"75002") + 2]
    with pytest.raises(DecodeError) as caught:
        shared_codec().decode(cut)
    assert str(caught.value) == (
        "cannot decode TrackingUpdated body at field delivered_to.postal_code: its length, "
        "5 bytes, runs past the end of the body (truncated, or written without it)")
    # without an address the record ends with the branch index: cut just after it
    index_end = len(shared_codec().encode(from_json(
        "carrier-tracking", {**TRACKED, "delivered_to": None})))
    with pytest.raises(DecodeError) as caught:
        shared_codec().decode(data[:index_end])
    assert str(caught.value) == (
        "cannot decode TrackingUpdated body at field delivered_to.name: the body ends inside "
        "this field (truncated, or written without it)")


@pytest.mark.parametrize("currency", ["E1 ", "ABC", "eur", "XXX", "XTS", "€UR"])
def test_a_currency_must_be_in_iso_4217s_list_not_just_look_like_a_code(currency):
    placed = from_json("orders", PLACED)
    with pytest.raises(ContractError) as caught:
        check_contract({**placed, "total": {"amount_minor": 1, "currency": currency}})
    assert (caught.value.field, caught.value.message) == (
        "total.currency", f"{currency!r} is not an ISO 4217 code")


@pytest.mark.parametrize("country", ["F1", "ZZ", "UK", "fr", "Fr"])
def test_a_country_must_be_in_iso_3166_1s_list_not_just_look_like_a_code(country):
    placed = from_json("orders", PLACED)
    address = {**placed["shipping_address"], "country": country}
    with pytest.raises(ContractError) as caught:
        check_contract({**placed, "shipping_address": address})
    assert (caught.value.field, caught.value.message) == (
        "shipping_address.country", f"{country!r} is not an ISO 3166-1 alpha-2 code")


@pytest.mark.parametrize(("currency", "country"), [("EUR", "FR"), ("USD", "US"),
                                                   ("GBP", "GB"), ("PLN", "PL"),
                                                   ("CHF", "LI"), ("JPY", "JP")])
def test_real_codes_pass(currency, country):
    placed = from_json("orders", PLACED)
    check_contract({**placed, "total": {"amount_minor": 1, "currency": currency},
                    "shipping_address": {**placed["shipping_address"], "country": country}})
