"""The JSONB form of an order: stable (stored documents stay readable) and lossless."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

from domain.decision import SellerStanding, StandingDecision
from domain.order import Case, Order, OrderTerms, Payment, ProofOfShipping, Refund
from domain.parcel import CarrierReport, ParcelStatus
from domain.records import Address, Money
from domain.vocabulary import CaseState
from storage.state_json import from_json, to_json
from tests.builders import HOME, T0, add_tracking, message, open_case, support

AT = dt.datetime(2026, 3, 12, 9, 30, tzinfo=dt.UTC)


def sample_order() -> Order:
    return Order(
        order_id="o-1",
        terms=OrderTerms(buyer_id="b1", seller_id="s1", total=Money(2599, "EUR"),
                         payment_method="aliberber_payments", shipping_address=HOME,
                         placed_at=T0, ship_by=dt.date(2026, 3, 3), estimated_delivery=None),
        shipments=[ProofOfShipping("dhl", "T1", "tracking")],
        payments=[Payment("p1", "e-p1", Money(2599, "EUR"), "aliberber_payments")],
        refunds=[Refund("r1", "e-r1", Money(500, "EUR"), "aliberber_payments", AT)],
        held=[open_case("o-1", event_id="h1"), add_tracking("o-1", event_id="h2"),
              support("escalate", "o-1", event_id="h3"), message("o-1", event_id="h4")],
        parcels=[ParcelStatus("dhl", "T1", CarrierReport("delivered", AT, HOME)),
                 ParcelStatus("ups:x", "9", CarrierReport("in_transit", AT, None))],
        case=Case(case_id="c-1", reason="non_delivery", state=CaseState.ESCALATED,
                  opened_at=AT, escalated_by="platform", seller_took_part_at=None,
                  proofs=[ProofOfShipping("dhl", "T1", "tracking")], swept=["late_delivery"]),
        decided_through=AT, decided_rank=3,
    )


def test_an_order_survives_the_round_trip_through_json_text():
    order = sample_order()
    assert from_json(Order, json.loads(json.dumps(to_json(order)))) == order
    assert from_json(Order, to_json(Order("o-2"))) == Order("o-2")


def test_the_document_keeps_its_stored_form():
    doc = to_json(sample_order())
    assert doc["terms"]["placed_at"] == "2026-03-01T10:00:00+00:00"
    assert doc["terms"]["ship_by"] == "2026-03-03"
    assert doc["terms"]["shipping_address"] == {
        "name": "Ada Buyer", "line1": "12 Rue de la Paix", "city": "Paris",
        "postal_code": "75002", "country": "FR"}
    assert doc["payments"] == [{"payment_id": "p1", "event_id": "e-p1",
                                "amount": {"amount_minor": 2599, "currency": "EUR"},
                                "provider": "aliberber_payments"}]
    assert doc["refunds"][0]["occurred_at"] == "2026-03-12T09:30:00+00:00"
    assert [h["type"] for h in doc["held"]] == ["OpenCase", "AddTracking", "SupportAction",
                                               "MessageSent"]
    assert doc["held"][0]["event_id"] == "h1" and "occurred_at" in doc["held"][0]
    assert doc["parcels"][1] == {"carrier": "ups:x", "tracking_number": "9", "report": {
        "status": "in_transit", "occurred_at": "2026-03-12T09:30:00+00:00"}}
    assert doc["case"]["state"] == "escalated" and doc["decided_rank"] == 3
    assert doc["case"]["proofs"] == [{"carrier": "dhl", "tracking_number": "T1",
                                      "proof": "tracking"}]


def test_values_equal_to_their_default_are_left_out():
    doc = to_json(sample_order())
    assert "estimated_delivery" not in doc["terms"]  # None
    assert "cancelled" not in doc  # False
    assert "placed_by" not in doc  # ""
    assert "seller_took_part_at" not in doc["case"]
    assert to_json(Order("o-2")) == {"order_id": "o-2"}


def test_documents_written_with_every_field_still_read():
    """The form before defaults were left out: nulls, false and empty lists written."""
    order = sample_order()
    full = to_json(order)
    full["terms"].update(estimated_delivery=None)
    full["terms"]["shipping_address"].update(line2=None, region=None)
    full.update(cancelled=False, placed_by="")
    full["parcels"][1]["report"].update(delivered_to=None, event_id="")
    full["case"].update(close_reason=None, seller_took_part_at=None)
    assert from_json(Order, full) == order


@dataclasses.dataclass
class _Reading:
    at: dt.datetime | None  # optional, but with no default
    note: str = "none"


def test_enum_members_read_back_as_members():
    order = from_json(Order, to_json(sample_order()))
    assert order.case is not None and order.case.state is CaseState.ESCALATED


def test_a_sellers_standing_survives_the_round_trip():
    standing = SellerStanding("s1", [StandingDecision(AT, "e1", True, "integrity", True)])
    assert from_json(SellerStanding, json.loads(json.dumps(to_json(standing)))) == standing


def test_a_left_out_field_reads_as_its_default_or_none():
    assert to_json(_Reading(None)) == {}
    assert from_json(_Reading, {}) == _Reading(None)
    assert from_json(_Reading, to_json(_Reading(AT, "x"))) == _Reading(AT, "x")


def test_unknown_keys_of_older_documents_are_ignored():
    doc = to_json(sample_order())
    doc["retired_field"] = 1
    doc["held"][0]["retired_field"] = "x"
    assert from_json(Order, doc) == sample_order()


def test_values_outside_an_order():
    assert to_json(Address("n", "l", "c", "p", "FR")) == {
        "name": "n", "line1": "l", "city": "c", "postal_code": "p", "country": "FR"}
    assert to_json(Money(1, "EUR")) == {"amount_minor": 1, "currency": "EUR"}
    assert from_json(Address | None, None) is None
