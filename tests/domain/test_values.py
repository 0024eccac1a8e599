"""Values built by `domain.values` are the values their constructors build."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from confluent_kafka import Message

from consumers import CONSUMERS
from consumers.batch import Limits, decode
from consumers.inbound import InboundMessage
from domain.policy import Policy
from domain.records import RECORD_TYPES, Address, Money, from_record
from domain.values import Shape
from schemas.codec import shared_codec
from service.unit_of_work import Inbound, Stored
from storage.decisions import PostgresDecisions
from workload.generator import generate

AT = dt.datetime(2026, 3, 2, 8, tzinfo=dt.UTC)


def test_every_record_type_is_built_as_its_constructor_builds_it() -> None:
    codec = shared_codec()
    seen = set()
    for item in generate(3, 400):
        decoded = codec.decode(codec.encode(item.record))
        built = from_record(decoded)
        cls = RECORD_TYPES[decoded["type"]]
        names = {f.name for f in dataclasses.fields(cls)}
        nested = {"total": Money, "amount": Money, "shipping_address": Address,
                  "delivered_to": Address}
        expected = cls(**{name: (nested[name](**value) if name in nested and value is not None
                                 else value)
                          for name, value in decoded.items() if name in names})
        assert type(built) is cls
        assert built == expected and hash(built) == hash(expected)
        assert repr(built) == repr(expected)
        seen.add(cls)
    assert seen == set(RECORD_TYPES.values())


def test_a_built_value_stays_frozen() -> None:
    money = Shape.of(Money).build({"amount_minor": 100, "currency": "EUR"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        money.currency = "USD"


def test_keys_that_are_no_field_are_left_out_and_defaults_filled_in() -> None:
    address = Shape.of(Address).build({"name": "A", "line1": "1 Road", "city": "Utrecht",
                                       "postal_code": "3500", "country": "NL",
                                       "added_in_a_later_schema": "x"})
    assert address == Address("A", "1 Road", "Utrecht", "3500", "NL")
    assert not hasattr(address, "added_in_a_later_schema")


def test_a_missing_field_without_default_fails_as_the_constructor_does() -> None:
    with pytest.raises(TypeError, match="currency"):
        Shape.of(Money).build({"amount_minor": 100})
    with pytest.raises(TypeError, match="seller_id"):
        from_record({"type": "OrderPlaced", "event_id": "e", "occurred_at": AT,
                     "order_id": "o", "buyer_id": "b",
                     "total": {"amount_minor": 1, "currency": "EUR"},
                     "payment_method": "card",
                     "shipping_address": {"name": "A", "line1": "1", "city": "C",
                                          "postal_code": "1", "country": "NL"}})


def test_assemble_is_refused_what_it_would_build_wrongly() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Slotted:
        a: int

    @dataclasses.dataclass(frozen=True)
    class Checked:
        a: int

        def __post_init__(self) -> None:
            if self.a < 0:
                raise ValueError("negative")

    for cls in (Slotted, Checked):
        with pytest.raises(TypeError, match=cls.__name__):
            Shape.of(cls)


def test_a_message_read_is_the_value_its_constructor_makes() -> None:
    msg = Message(topic="orders", partition=1, offset=7, key=b"k", value=b"v",
                  headers=[("traceparent", b"00-1")], timestamp=(1, 1_700_000_000_000))
    assert InboundMessage.of(msg) == InboundMessage(
        topic="orders", partition=1, offset=7, key=b"k", value=b"v",
        headers=(("traceparent", b"00-1"),), timestamp_type=1, timestamp=1_700_000_000_000)


def test_what_a_consumer_and_the_sweeper_build_per_record_has_every_field() -> None:
    """`assemble` is given each field by name where these are made: a field added to
    their classes without a plain default (none, or a factory) and not given there would
    be missing."""
    codec = shared_codec()
    item = next(i for i in generate(4, 5) if i.topic == "orders")
    value = codec.encode(item.record)
    msg = InboundMessage(topic="orders", partition=0, offset=3, key=item.key.encode(),
                         value=value, timestamp_type=1,
                         timestamp=int(AT.timestamp() * 1000) + 86_400_000 * 365 * 2)
    limits = Limits(1 << 20, dt.timedelta(seconds=5))
    inbound = decode(CONSUMERS["orders"], msg, limits, limits.batch_clock())
    assert isinstance(inbound, Inbound)
    assert inbound == Inbound(**{f.name: getattr(inbound, f.name)
                                 for f in dataclasses.fields(Inbound)})
    stored = PostgresDecisions(None, Policy())._stored(
        inbound.cause.event_id, "orders", 0, 3, value, None)
    assert isinstance(stored, Stored)
    assert stored == Stored(**{f.name: getattr(stored, f.name)
                               for f in dataclasses.fields(Stored)})
    assert stored.record == inbound.record
