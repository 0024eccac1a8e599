"""The catalogue of bad input (docs/bad-input.md), end to end: each kind is produced to its
inbound topic, the running service (`cases run`) sends it to `<topic>.dlq` with its
original key, bytes and headers (a traceparent first) and a reason naming the problem,
applies nothing of it, and goes on: a good record produced after it, to the same
partition, is processed.

To keep this quick, what some kinds contradict or reuse is sent and stored first (an
order, a payment, an event_id), then every bad record, then one good record per topic,
then what some kinds must be read before (an order after its payment), and the module
waits once; each parametrised test then checks one kind.
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from confluent_kafka import KafkaError, Message, Producer
from fastavro import schemaless_writer
from fastavro.schema import fingerprint, to_parsing_canonical_form

from configuration import DEFAULT_MAX_RECORD_BYTES, Settings
from consumers.batch import BatchReport
from consumers.dead_letters import MAX_KEY_BYTES, read_headers
from consumers.storing import BatchStore, Retrier, store_isolating
from domain.order import Order
from schemas import INBOUND_TOPICS
from schemas.codec import shared_codec
from schemas.json_form import from_json
from service.unit_of_work import Cause, Inbound
from storage.order_rows import order_from_row
from tests.integration import clock
from tests.integration.conftest import (
    committed,
    db_events,
    read_topic,
    send,
    wait_for,
    wait_for_db_events,
    wait_until_known,
    wait_until_stored,
)
from tests.integration.scenario import ADDRESS, Scenario

pytestmark = pytest.mark.integration

PARTITION = 0  # every record of this module goes here, so "after it" is well defined
DECODE = "schemas.codec.DecodeError"
CONTRACT = "schemas.json_form.ContractError"
MISSING_KEY = "consumers.batch.MissingKey"
TOO_LARGE = "consumers.batch.RecordTooLarge"
FUTURE = "consumers.batch.FutureRecord"
CONFLICT = "consumers.storing.EventIdConflict"
INVALID = "domain.decision.InvalidRecord"


def _eid() -> str:
    return str(uuid.uuid4())


# ---- valid records, then ways to spoil them ---------------------------------------------

def placed(order_id: str, **change: Any) -> dict[str, Any]:
    record = from_json("orders", {
        "event_id": _eid(), "type": "OrderPlaced", "occurred_at": "2026-03-01T10:00:00Z",
        "order_id": order_id, "buyer_id": f"buyer-{order_id}",
        "seller_id": f"seller-{order_id}", "total": {"amount_minor": 5000, "currency": "EUR"},
        "payment_method": "aliberber_payments", "shipping_address": ADDRESS,
        "estimated_delivery": "2026-03-10"})
    return {**record, **change}  # changed after the JSON form's checks, as a producer might


def opened(order_id: str, **change: Any) -> dict[str, Any]:
    return {**from_json("case-actions", {
        "event_id": _eid(), "type": "OpenCase", "occurred_at": "2026-03-12T09:00:00Z",
        "order_id": order_id, "actor_id": f"buyer-{order_id}", "actor_role": "buyer",
        "reason": "non_delivery", "description": "It never arrived."}), **change}


def captured(order_id: str, amount: int = 5000, currency: str = "EUR",
             **change: Any) -> dict[str, Any]:
    record = from_json("payments", {
        "event_id": _eid(), "type": "PaymentCaptured", "occurred_at": "2026-03-01T10:01:00Z",
        "payment_id": _eid(), "order_id": order_id,
        "amount": {"amount_minor": 1, "currency": "EUR"}, "provider": "aliberber_payments"})
    return {**record, "amount": {"amount_minor": amount, "currency": currency}, **change}


def refund(order_id: str, currency: str, amount: int = 1000, **change: Any) -> dict[str, Any]:
    return {**from_json("payments", {
        "event_id": _eid(), "type": "RefundIssued", "occurred_at": "2026-03-13T10:00:00Z",
        "refund_id": _eid(), "order_id": order_id,
        "amount": {"amount_minor": amount, "currency": currency},
        "provider": "aliberber_payments", "initiated_by": "seller"}), **change}


def message(order_id: str, body: str = "Where is my parcel?") -> dict[str, Any]:
    record = from_json("messages", {
        "event_id": _eid(), "type": "MessageSent", "occurred_at": "2026-03-11T09:00:00Z",
        "order_id": order_id, "sender_id": f"buyer-{order_id}", "sender_role": "buyer",
        "kind": "problem_report", "body": "x"})
    return {**record, "body": body}


def tracking(number: str, carrier: str = "laposte", **change: Any) -> dict[str, Any]:
    return {**from_json("carrier-tracking", {
        "event_id": _eid(), "type": "TrackingUpdated", "occurred_at": "2026-03-12T18:00:00Z",
        "carrier": "laposte", "tracking_number": number, "status": "in_transit"}),
        "carrier": carrier, **change}


def moved(record: dict[str, Any]) -> bytes:
    """The record's bytes, moved in time as `send` moves records (tests/integration/
    clock.py): for the kinds the sweeper judges in event time against records sent so."""
    return avro(clock.move_record(record))


def avro(record: dict[str, Any]) -> bytes:
    return shared_codec().encode(record)


def _schema(record_type: str) -> dict[str, Any]:
    return copy.deepcopy(shared_codec().current[record_type].parsed)


def _field(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in schema["fields"] if f["name"] == name)


def written_with(record: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> bytes:
    """The record's current header (marker and fingerprint) with a body written by a
    schema that `change` made different: what a producer with a drifted schema sends."""
    schema = _schema(record["type"])
    change(schema)
    body = io.BytesIO()
    schemaless_writer(body, schema, record)
    return b"\xc3\x01" + shared_codec().current[record["type"]].fingerprint + body.getvalue()


def without(name: str) -> Callable[[dict[str, Any]], None]:
    def change(schema: dict[str, Any]) -> None:
        schema["fields"] = [f for f in schema["fields"] if f["name"] != name]
    return change


def newer_schema_fingerprint() -> bytes:
    """The fingerprint of a version of OrderCancelled this service does not have."""
    schema = _schema("OrderCancelled")
    schema["fields"].append({"name": "note", "type": "string"})
    return bytes.fromhex(fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO"))


# ---- the catalogue --------------------------------------------------------------------

@dataclass
class Bad:
    """One kind of bad input: where it goes, how it is made, what the DLQ must say."""

    kind: str
    topic: str
    make: Callable[[str], tuple[bytes | None, bytes | None]]  # order id -> (key, value)
    error: str
    reason: Callable[[Bad], str]  # the exact kafka_dlt-exception-message
    kept: bool = True  # False only when the original cannot fit the DLQ topic
    #: records (topic, record) sent and stored before it: what it contradicts or reuses
    before: Callable[[str], list[tuple[str, dict[str, Any]]]] | None = None
    #: records sent once it is stored (an order after its payment, say)
    after: Callable[[str], list[tuple[str, dict[str, Any]]]] | None = None
    #: checks that nothing of it was applied, when the default check does not fit
    unapplied: Callable[[Bad, psycopg.Connection], None] | None = None
    # filled in when produced
    order_id: str = ""
    key: bytes | None = None
    value: bytes | None = None
    offset: int = -1
    #: where the `before` records were stored (event_id -> topic[partition]@offset),
    #: the dead letter's headers once read
    extra: dict[str, Any] = field(default_factory=dict)


def _k(order_id: str) -> bytes:
    return order_id.encode()


def _as(reason: str) -> Callable[[Bad], str]:
    return lambda _bad: reason


def _too_large(what: str, limit: int) -> Callable[[Bad], str]:
    def reason(bad: Bad) -> str:
        size = len((bad.value if what == "value" else bad.key) or b"")
        text = f"{what} of {size} bytes is over the {limit}-byte limit"
        if what == "value":
            text += " (CASES_MAX_RECORD_BYTES)"
        if not bad.kept:  # the original stays where it was; the letter says where
            left = f"the {len(bad.value or b'')}-byte value"
            left += f" and the {size}-byte key are" if what == "key" else " is"
            text += (f"; {left} not copied, too large for {bad.topic}.dlq: read it at "
                     f"{bad.topic}[{PARTITION}]@{bad.offset}")
        return text
    return reason


def _nul_body(o: str) -> tuple[bytes, bytes]:
    return _k(o), avro(message(o, body="first line\x00second line"))


def _big_message(o: str, size: int) -> tuple[bytes, bytes]:
    small = avro(message(o, body=""))
    # the body's length prefix grows by a few bytes with the body: aim a little short
    value = avro(message(o, body="x" * (size - len(small) - 4)))
    return _k(o), value


def _enum_out_of_range(schema: dict[str, Any]) -> None:
    _field(schema, "reason")["type"]["symbols"].append("changed_mind")


def _double_amount(schema: dict[str, Any]) -> None:
    _field(_field(schema, "amount")["type"], "amount_minor")["type"] = "double"


def _plain_long_occurred_at(schema: dict[str, Any]) -> None:
    _field(schema, "occurred_at")["type"] = "long"


def _state(db: psycopg.Connection, order_id: str) -> Order | None:
    row = db.execute("SELECT terms, state FROM orders WHERE order_id = %s",
                     (order_id,)).fetchone()
    return order_from_row(order_id, *row) if row and row[1] else None


def _no_order(order_id: str) -> Callable[[Bad, psycopg.Connection], None]:
    def check(_bad: Bad, db: psycopg.Connection) -> None:
        assert db.execute("SELECT 1 FROM order_records WHERE order_id = %s",
                          (order_id,)).fetchone() is None
    return check


def _money(payments: int, refunds: int) -> Callable[[Bad, psycopg.Connection], None]:
    """The order it contradicts stands, with this many captures and refunds counted."""
    def check(bad: Bad, db: psycopg.Connection) -> None:
        order = _state(db, bad.order_id)
        assert order is not None and order.terms is not None
        assert (len(order.payments), len(order.refunds)) == (payments, refunds)
    return check


def _reused_by(record_type: str) -> Callable[[Bad, psycopg.Connection], None]:
    """The event_id still names the first record, of `record_type`."""
    def check(bad: Bad, db: psycopg.Connection) -> None:
        rows = db.execute("SELECT order_id, record_type FROM order_records WHERE event_id = "
                          "%s", (f"{bad.order_id}-reused",)).fetchall()
        assert rows == [(bad.order_id, record_type)]
    return check


def _conflict(topic: str) -> Callable[[Bad], str]:
    def reason(bad: Bad) -> str:
        return (f"event_id '{bad.order_id}-reused' already names another record (read at "
                f"{bad.extra[f'{bad.order_id}-reused']}): a reused event_id with other "
                "content")
    return reason


def _future(bad: Bad) -> str:
    reached = dt.datetime.fromtimestamp(
        bad.extra["headers"]["kafka_dlt-original-timestamp"] / 1000, dt.UTC)
    return ("occurred_at 2099-01-01T00:00:00+00:00 is after the record reached Kafka "
            f"({reached.isoformat(timespec='milliseconds')}) by more than the 5-second "
            "clock-skew tolerance")


def _with_last_bytes(data: bytes, last: bytes, keep: int) -> bytes:
    """`data` with what follows its first len(data) - keep bytes replaced by `last`."""
    return data[:len(data) - keep] + last


def _untracked_parcel(bad: Bad, db: psycopg.Connection) -> None:
    assert db.execute("SELECT 1 FROM parcel_reports WHERE tracking_number = %s",
                      (f"1-{bad.order_id}",)).fetchone() is None


def _no_case(bad: Bad, db: psycopg.Connection) -> None:
    order = _state(db, bad.order_id)
    assert order is None or order.case is None


def _cut_in_delivered_to(order_id: str) -> bytes:
    data = avro(tracking(order_id, status="delivered", delivered_to=ADDRESS))
    return data[:data.index(ADDRESS["postal_code"].encode()) + 2]


def _second_placed_refused(bad: Bad, db: psycopg.Connection) -> None:
    order = _state(db, bad.order_id)
    assert order is not None and order.terms is not None
    assert order.terms.buyer_id == f"buyer-{bad.order_id}"  # the first one's


CATALOGUE: list[Bad] = [
    Bad("not Avro: JSON text", "orders",
        lambda o: (_k(o), b'{"type": "OrderPlaced", "order_id": "' + _k(o) + b'"}'),
        DECODE, _as("not Avro single-object encoding (no C3 01 marker)")),
    Bad("Confluent Schema Registry framing", "orders",
        lambda o: (_k(o), b"\x00\x00\x00\x00\x07" + avro(placed(o))[10:]),
        DECODE, _as("Confluent Schema Registry framing (magic byte 0, schema id 7), not Avro "
                    "single-object encoding (C3 01)")),
    Bad("wrong marker", "orders", lambda o: (_k(o), b"\xc3\x02" + avro(placed(o))[2:]),
        DECODE, _as("wrong single-object marker C3 02 (expected C3 01)")),
    Bad("empty value (tombstone)", "orders", lambda o: (_k(o), None),
        DECODE, _as("empty value (no bytes: a tombstone or an empty record)")),
    Bad("truncated header", "orders", lambda o: (_k(o), avro(placed(o))[:5]),
        DECODE, _as("truncated header: 5 bytes, where the marker and fingerprint alone "
                    "take 10")),
    Bad("unknown schema fingerprint", "orders",
        lambda o: (_k(o), b"\xc3\x01" + newer_schema_fingerprint() + b"\x02e"),
        DECODE, lambda b: (f"unknown schema fingerprint {newer_schema_fingerprint().hex()} "
                           "(no current or retired schema has it)")),
    Bad("truncated Avro body", "case-actions", lambda o: (_k(o), avro(opened(o))[:-5]),
        DECODE, _as("cannot decode OpenCase body at field description: its length, 17 bytes, "
                    "runs past the end of the body (truncated, or written without it)")),
    Bad("bytes after the record", "case-actions",
        lambda o: (_k(o), avro(opened(o)) + b"\x00\x00"),
        DECODE, _as("2 bytes after the record")),
    Bad("record of another topic's schema", "orders", lambda o: (_k(o), avro(captured(o))),
        CONTRACT, _as("field type: PaymentCaptured does not belong on topic orders")),
    Bad("missing required field (body written without it)", "case-actions",
        lambda o: (_k(o), written_with(opened(o), without("description"))),
        DECODE, _as("cannot decode OpenCase body at field description: the body ends inside "
                    "this field (truncated, or written without it)")),
    Bad("required id present but empty", "orders",
        lambda o: (_k(o), avro(placed(o, buyer_id=""))),
        CONTRACT, _as("field buyer_id: must not be empty")),
    Bad("unknown enum symbol", "case-actions",
        lambda o: (_k(o), written_with({**opened(o), "reason": "changed_mind"},
                                       _enum_out_of_range)),
        DECODE, _as("cannot decode OpenCase body at field reason: symbol index 2 is not one "
                    "of the 2 symbols of CaseReason (non_delivery, not_as_described)")),
    Bad("negative amount", "payments", lambda o: (_k(o), avro(captured(o, amount=-100))),
        CONTRACT, _as("field amount.amount_minor: must not be negative")),
    Bad("non-integer amount (written as a double)", "payments",
        lambda o: (_k(o), written_with({**captured(o), "amount": {
            "amount_minor": 25.99, "currency": "EUR"}}, _double_amount)),
        DECODE, _as("cannot decode PaymentCaptured body at field amount.currency: "
                    "the 5-byte string is not UTF-8")),
    Bad("amount beyond 2^53 - 1", "payments",
        lambda o: (_k(o), avro(captured(o, amount=2**53))),
        CONTRACT, _as("field amount.amount_minor: is more than 9007199254740991 (2^53 - 1)")),
    Bad("currency code that is not ISO 4217", "payments",
        lambda o: (_k(o), avro(captured(o, currency="eur"))),
        CONTRACT, _as("field amount.currency: 'eur' is not an ISO 4217 code")),
    Bad("country that is not ISO 3166-1 alpha-2", "orders",
        lambda o: (_k(o), avro(placed(o, shipping_address={**placed(o)["shipping_address"],
                                                          "country": "France"}))),
        CONTRACT, _as("field shipping_address.country: 'France' is not an ISO 3166-1 alpha-2 "
                      "code")),
    Bad("currency different from the order's", "payments",
        lambda o: (_k(o), moved(refund(o, currency="USD"))),
        INVALID, _as("currency USD differs from the order's EUR"),
        before=lambda o: [("orders", placed(o))], unapplied=_money(0, 0)),
    Bad("timestamp out of range", "orders",
        lambda o: (_k(o), avro(placed(o, occurred_at=placed(o)["occurred_at"].replace(
            year=1970)))),
        CONTRACT, _as("field occurred_at: 1970-03-01T10:00:00+00:00 is outside 2000-01-01 to "
                      "2100-01-01")),
    Bad("timestamp beyond any calendar date", "case-actions",
        lambda o: (_k(o), written_with({**opened(o), "occurred_at": 2**62},
                                       _plain_long_occurred_at)),
        DECODE, _as("cannot decode OpenCase body at field occurred_at: timestamp-millis value "
                    "4611686018427387904 is beyond any calendar date")),
    Bad("date out of range", "orders",
        lambda o: (_k(o), avro(placed(o, estimated_delivery=placed(o)[
            "estimated_delivery"].replace(year=9999)))),
        CONTRACT, _as("field estimated_delivery: 9999-03-10 is outside 2000-01-01 to "
                      "2100-01-01")),
    Bad("no key", "orders", lambda o: (None, avro(placed(o))),
        MISSING_KEY, lambda b: f"the message has no key (expected '{b.order_id}')"),
    Bad("empty key", "carrier-tracking", lambda o: (b"", avro(tracking(o))),
        MISSING_KEY, lambda b: f"the message key is empty (expected 'laposte:{b.order_id}')"),
    Bad("key that does not match the record", "carrier-tracking",
        lambda o: (b"laposte-" + _k(o), avro(tracking(o))),
        CONTRACT, lambda b: ("field key: the message key does not match the record "
                             f"(expected 'laposte:{b.order_id}')")),
    Bad("NUL character in a text field", "messages", _nul_body,
        CONTRACT, _as("field body: contains a NUL character (U+0000)")),
    Bad("id longer than an id may be", "orders",
        lambda o: (_k(o), avro(placed(o, event_id="e" * 300))),
        CONTRACT, _as("field event_id: is 300 characters long, more than the 128 an id may "
                      "have")),
    Bad("oversized value", "messages",
        lambda o: _big_message(o, DEFAULT_MAX_RECORD_BYTES + 10),
        TOO_LARGE, _too_large("value", DEFAULT_MAX_RECORD_BYTES)),
    Bad("value too large even for the DLQ", "messages",
        lambda o: _big_message(o, 1_010_000),
        TOO_LARGE, _too_large("value", DEFAULT_MAX_RECORD_BYTES), kept=False),
    Bad("oversized key", "orders", lambda o: (b"k" * 600_000, avro(placed(o))),
        TOO_LARGE, _too_large("key", MAX_KEY_BYTES)),
    Bad("key too large even for the DLQ", "orders",
        lambda o: (b"k" * 1_010_000, avro(placed(o))),
        TOO_LARGE, _too_large("key", MAX_KEY_BYTES), kept=False),
    # ---- since the adversarial run ------------------------------------------------
    Bad("event_id reused by another order's OrderPlaced", "orders",
        lambda o: (f"{o}-other".encode(), avro(placed(f"{o}-other", event_id=f"{o}-reused"))),
        CONFLICT, _conflict("orders"),
        before=lambda o: [("orders", placed(o, event_id=f"{o}-reused"))],
        unapplied=lambda b, db: (_no_order(f"{b.order_id}-other")(b, db),
                                 _reused_by("OrderPlaced")(b, db))),
    Bad("event_id of a payment reused by a refund", "payments",
        lambda o: (_k(o), avro(refund(o, "EUR", event_id=f"{o}-reused"))),
        CONFLICT, _conflict("payments"),
        before=lambda o: [("payments", captured(o, event_id=f"{o}-reused"))],
        unapplied=_reused_by("PaymentCaptured")),
    Bad("event_id of an OrderPlaced reused by an OpenCase", "case-actions",
        lambda o: (_k(o), avro(opened(o, event_id=f"{o}-reused"))),
        CONFLICT, _conflict("case-actions"),
        before=lambda o: [("orders", placed(o, event_id=f"{o}-reused"))],
        unapplied=lambda b, db: (_reused_by("OrderPlaced")(b, db),
                                 _no_case(b, db))),
    # the two record tables share one space of event_ids (the inbox), both ways round
    Bad("event_id of an OrderPlaced reused by a carrier report", "carrier-tracking",
        lambda o: (f"laposte:1-{o}".encode(), avro(tracking(f"1-{o}", event_id=f"{o}-reused"))),
        CONFLICT, _conflict("carrier-tracking"),
        before=lambda o: [("orders", placed(o, event_id=f"{o}-reused"))],
        unapplied=lambda b, db: (_reused_by("OrderPlaced")(b, db),
                                 _untracked_parcel(b, db))),
    Bad("event_id of a carrier report reused by an OrderPlaced", "orders",
        lambda o: (_k(o), avro(placed(o, event_id=f"{o}-reused"))),
        CONFLICT, _conflict("orders"),
        before=lambda o: [("carrier-tracking", tracking(f"1-{o}", event_id=f"{o}-reused"))],
        unapplied=lambda b, db: _no_order(b.order_id)(b, db)),
    Bad("carrier code containing ':' (parcel key collision)", "carrier-tracking",
        lambda o: (f"ups:x:1-{o}".encode(), avro(tracking(f"1-{o}", carrier="ups:x"))),
        CONTRACT, _as("field carrier: must not contain ':' (the carrier-tracking key joins "
                      "the carrier and the tracking number with it)"),
        unapplied=_untracked_parcel),
    Bad("record dated in the future (beyond the clock-skew tolerance)", "case-actions",
        lambda o: (_k(o), avro({**opened(o), "occurred_at": dt.datetime(
            2099, 1, 1, tzinfo=dt.UTC)})),
        FUTURE, _future),
    Bad("key that is not UTF-8", "orders", lambda o: (b"\xff\xfe" + _k(o), avro(placed(o))),
        CONTRACT, lambda b: ("field key: the message key is not UTF-8 text (expected "
                             f"'{b.order_id}')")),
    Bad("currency of the right shape missing from ISO 4217", "payments",
        lambda o: (_k(o), avro(captured(o, currency="E1 "))),
        CONTRACT, _as("field amount.currency: 'E1 ' is not an ISO 4217 code")),
    Bad("country of the right shape missing from ISO 3166-1", "orders",
        lambda o: (_k(o), avro(placed(o, shipping_address={**ADDRESS, "country": "F1"}))),
        CONTRACT, _as("field shipping_address.country: 'F1' is not an ISO 3166-1 alpha-2 "
                      "code")),
    Bad("address without a first line", "orders",
        lambda o: (_k(o), avro(placed(o, shipping_address={**ADDRESS, "line1": "  "}))),
        CONTRACT, _as("field shipping_address.line1: must not be empty")),
    Bad("captures above the order's total", "payments",
        lambda o: (_k(o), moved(captured(o, amount=6000))),
        INVALID, _as("captures would reach 6000 EUR, more than the order's total of 5000"),
        before=lambda o: [("orders", placed(o))], unapplied=_money(0, 0)),
    Bad("refunds above what was captured", "payments",
        lambda o: (_k(o), moved(refund(o, "EUR", amount=4001))),
        INVALID, _as("refunds would reach 4001 EUR, more than the 4000 captured"),
        before=lambda o: [("orders", placed(o)), ("payments", captured(o, amount=4000))],
        unapplied=_money(1, 0)),
    Bad("refunds above the order's total before any capture", "payments",
        lambda o: (_k(o), moved(refund(o, "EUR", amount=5001))),
        INVALID, _as("refunds would reach 5001 EUR, more than the 5000 of the order's total"),
        before=lambda o: [("orders", placed(o))], unapplied=_money(0, 0)),
    Bad("payment in another currency, read after its order", "payments",
        lambda o: (_k(o), moved(captured(o, currency="USD"))),
        INVALID, _as("currency USD differs from the order's EUR"),
        before=lambda o: [("orders", placed(o))], unapplied=_money(0, 0)),
    Bad("payment in another currency, read before its order", "payments",
        lambda o: (_k(o), moved(captured(o, currency="USD"))),
        INVALID, _as("currency USD differs from the order's EUR"),
        after=lambda o: [("orders", placed(o))], unapplied=_money(0, 0)),
    Bad("second OrderPlaced for an order", "orders",
        lambda o: (_k(o), moved(placed(o, buyer_id="someone-else",
                                       occurred_at=placed(o)["occurred_at"].replace(day=2)))),
        INVALID, lambda b: (f"order {b.order_id} was already placed by record "
                            f"{b.order_id}-first; a second OrderPlaced is not allowed"),
        before=lambda o: [("orders", placed(o, event_id=f"{o}-first"))],
        unapplied=_second_placed_refused),
    Bad("body cut inside a union field ([null, date])", "orders",
        lambda o: (_k(o), avro(placed(o))[:-1]),
        DECODE, _as("cannot decode OrderPlaced body at field estimated_delivery: the body "
                    "ends inside this field (truncated, or written without it)")),
    Bad("body cut inside a record in a union ([null, Address])", "carrier-tracking",
        lambda o: (f"laposte:{o}".encode(), _cut_in_delivered_to(o)),
        DECODE, _as("cannot decode TrackingUpdated body at field delivered_to.postal_code: "
                    "its length, 5 bytes, runs past the end of the body (truncated, or "
                    "written without it)")),
    Bad("union branch index out of range", "orders",
        lambda o: (_k(o), _with_last_bytes(avro(placed(o)), b"\x06" + avro(placed(o))[-3:],
                                           4)),
        DECODE, _as("cannot decode OrderPlaced body at field estimated_delivery: union branch "
                    "index 3 is out of range (the field is one of null, date: index 0 to 1)")),
    Bad("string that is not UTF-8 on the wire", "case-actions",
        lambda o: (_k(o), avro(opened(o, description="\u00e9\u00e9")).replace(
            b"\xc3\xa9\xc3\xa9", b"\xff\xfe\xfd\xfc")),
        DECODE, _as("cannot decode OpenCase body at field description: the 4-byte string is "
                    "not UTF-8")),
    Bad("negative string length", "case-actions",
        lambda o: (_k(o), _with_last_bytes(avro(opened(o, description="x")), b"\x05x", 2)),
        DECODE, _as("cannot decode OpenCase body at field description: negative length -3")),
]


def _good(topic: str, order_id: str) -> dict[str, Any]:
    return {"orders": lambda: placed(order_id), "messages": lambda: message(order_id),
            "carrier-tracking": lambda: tracking(f"LP-{order_id}"),
            "payments": lambda: captured(order_id),
            "case-actions": lambda: opened(order_id)}[topic]()


@dataclass
class Run:
    bad: dict[str, Bad]
    good: dict[str, tuple[str, int]]  # topic -> (event_id, offset)
    letters: dict[tuple[str, int], Message]  # (original topic, offset) -> dead letter
    log: Path
    inbox: set[str]


def _trace(kind: str) -> bytes:
    """A W3C trace context of the kind's own: every dead letter must keep it."""
    return f"00-{uuid.uuid5(uuid.NAMESPACE_URL, kind).hex}-{'1' * 16}-01".encode()


def _produce_in_order(settings: Settings, topic: str,
                      items: list[tuple[bytes | None, bytes | None, bytes]]) -> list[int]:
    """Produce (key, value, traceparent) to PARTITION in the order given; return each
    message's offset."""
    offsets: dict[int, int] = {}
    errors: list[KafkaError] = []
    # room for the one value above librdkafka's default 1 000 000-byte limit
    producer = Producer(settings.kafka(**{"enable.idempotence": True,
                                          "message.max.bytes": 1_040_000}))
    for n, (key, value, trace) in enumerate(items):
        def delivered(err: KafkaError | None, msg: Message, n: int = n) -> None:
            if err is not None:
                errors.append(err)
            else:
                offsets[n] = msg.offset()
        producer.produce(topic, key=key, value=value, partition=PARTITION,
                         headers=[("traceparent", trace)], on_delivery=delivered)
    assert producer.flush(60) == 0 and not errors, errors
    return [offsets[n] for n in range(len(items))]


def _where_stored(db: psycopg.Connection, event_id: str) -> str:
    wait_until_stored(db, event_id)
    topic, partition, offset = db.execute(
        'SELECT topic, "partition", "offset" FROM inbox WHERE event_id = %s',
        (event_id,)).fetchone()
    return f"{topic}[{partition}]@{offset}"


@pytest.fixture(scope="module")
def run(settings: Settings, service: Path) -> Run:
    base = f"bad-{uuid.uuid4().hex[:8]}"
    bad: dict[str, Bad] = {}
    with psycopg.connect(settings.database_url, autocommit=True) as db:
        for n, item in enumerate(CATALOGUE):
            item.order_id = f"{base}-{n}"
            item.extra = {}
            bad[item.kind] = item
        # what some kinds contradict or reuse, stored first
        for item in CATALOGUE:
            if item.before is not None:
                records = item.before(item.order_id)
                send(settings, *records)
                for _, record in records:
                    item.extra[record["event_id"]] = _where_stored(db, record["event_id"])
                if any(topic == "orders" for topic, _ in records):
                    wait_until_known(db, item.order_id)

        good: dict[str, tuple[str, int]] = {}
        for topic in INBOUND_TOPICS:
            items = [b for b in CATALOGUE if b.topic == topic]
            for item in items:
                item.key, item.value = item.make(item.order_id)
            record = _good(topic, f"{base}-good-{topic}")
            key = (f"laposte:{record['tracking_number']}" if topic == "carrier-tracking"
                   else record["order_id"]).encode()
            offsets = _produce_in_order(
                settings, topic, [(b.key, b.value, _trace(b.kind)) for b in items]
                + [(key, avro(record), _trace(topic))])
            for item, offset in zip(items, offsets, strict=False):
                item.offset = offset
            good[topic] = (record["event_id"], offsets[-1])

        def processed() -> set[str] | None:
            ids = [event_id for event_id, _ in good.values()]
            rows = {r[0] for r in db.execute("SELECT event_id FROM inbox WHERE event_id = "
                                             "ANY(%s)", (ids,)).fetchall()}
            return rows if len(rows) == len(ids) else None

        inbox = wait_for(processed, timeout=90, what="the good record of every topic")
        # what some kinds are contradicted by, read after them
        for item in CATALOGUE:
            if item.after is not None:
                send(settings, *item.after(item.order_id))

    wanted = {(b.topic, b.offset) for b in CATALOGUE}

    def all_letters() -> dict[tuple[str, int], Message] | None:
        found: dict[tuple[str, int], Message] = {}
        for topic in {b.topic for b in CATALOGUE}:
            for msg in read_topic(settings, f"{topic}.dlq", lambda m: True, decode=False):
                headers = read_headers(msg.headers())
                where = (headers.get("kafka_dlt-original-topic"),
                         headers.get("kafka_dlt-original-offset"))
                group = headers.get("kafka_dlt-original-consumer-group")
                if (headers.get("kafka_dlt-original-partition") == PARTITION
                        and where in wanted and where not in found  # the first, not a redrive's
                        and group in (f"order-cases.{topic}", "order-cases.sweeper")):
                    found[where] = msg  # type: ignore[index]
        return found if len(found) == len(wanted) else None

    letters = wait_for(all_letters, timeout=90, what="a dead letter for every kind")
    return Run(bad, good, letters, service, inbox)


@pytest.mark.parametrize("kind", [b.kind for b in CATALOGUE])
def test_bad_input_goes_to_the_dlq_with_its_reason_and_the_consumer_goes_on(run, kind, db):
    item = run.bad[kind]
    letter = run.letters[(item.topic, item.offset)]
    headers = read_headers(letter.headers())
    item.extra["headers"] = headers

    assert letter.topic() == f"{item.topic}.dlq"
    if item.kept:
        assert (letter.key(), letter.value()) == (item.key, item.value)
    else:  # the original stays where it was; the letter says where
        assert letter.value() is None
        assert letter.key() == (None if len(item.key or b"") > MAX_KEY_BYTES else item.key)
    # the original's own headers come first, unchanged (a trace context, say)
    assert letter.headers()[0] == ("traceparent", _trace(kind))
    assert headers["kafka_dlt-original-topic"] == item.topic
    assert headers["kafka_dlt-original-partition"] == PARTITION
    assert headers["kafka_dlt-original-offset"] == item.offset
    # bad by itself: its consumer; bad against what is known: the sweeper that decided it
    assert headers["kafka_dlt-original-consumer-group"] == (
        "order-cases.sweeper" if item.error == INVALID else f"order-cases.{item.topic}")
    assert headers["kafka_dlt-exception-fqcn"] == item.error
    assert headers["kafka_dlt-exception-message"] == item.reason(item)

    # nothing of it was applied ...
    if item.unapplied is not None:
        item.unapplied(item, db)
    else:
        assert db.execute("SELECT 1 FROM orders WHERE order_id = %s",
                          (item.order_id,)).fetchone() is None
        assert db.execute("SELECT 1 FROM order_records WHERE order_id = %s",
                          (item.order_id,)).fetchone() is None
    assert db.execute("SELECT 1 FROM parcel_reports WHERE carrier = 'laposte' "
                      "AND tracking_number = %s", (item.order_id,)).fetchone() is None
    # ... and the consumer went on: the good record after it, same partition, is applied
    good_event_id, good_offset = run.good[item.topic]
    assert good_offset > item.offset and good_event_id in run.inbox
    log = run.log.read_text()
    assert "component_exited" not in log
    # every kind is one a check foresaw: none is logged as an unexpected failure
    assert '"undecodable_record"' not in log


def test_the_catalogue_has_every_kind_the_contract_names():
    kinds = {b.kind for b in CATALOGUE}
    for required in ("not Avro: JSON text", "wrong marker", "unknown schema fingerprint",
                     "truncated Avro body", "record of another topic's schema",
                     "missing required field (body written without it)",
                     "unknown enum symbol", "negative amount",
                     "non-integer amount (written as a double)",
                     "currency different from the order's", "timestamp out of range",
                     "empty key", "oversized value",
                     "event_id reused by another order's OrderPlaced",
                     "event_id of a payment reused by a refund",
                     "event_id of an OrderPlaced reused by an OpenCase",
                     "carrier code containing ':' (parcel key collision)",
                     "record dated in the future (beyond the clock-skew tolerance)",
                     "key that is not UTF-8",
                     "currency of the right shape missing from ISO 4217",
                     "country of the right shape missing from ISO 3166-1",
                     "captures above the order's total", "refunds above what was captured",
                     "payment in another currency, read before its order",
                     "payment in another currency, read after its order",
                     "body cut inside a union field ([null, date])",
                     "union branch index out of range"):
        assert required in kinds
    assert len(kinds) == len(CATALOGUE) >= 30


def test_a_record_the_database_cannot_store_fails_alone_and_its_batch_is_applied(
        settings, db):
    """The safety net behind the contract checks: were a record to pass them and still
    make PostgreSQL fail (here one checks are bypassed for), it is isolated and returned
    as failed instead of failing its whole batch on every retry."""
    def inbound(record: dict[str, Any], offset: int) -> Inbound:
        return Inbound(Cause("messages", PARTITION, offset, record["event_id"]),
                       record, record["event_id"].encode(), avro(record))

    base = f"poison-{uuid.uuid4().hex[:8]}"
    first, last = inbound(message(f"{base}-1"), 1), inbound(message(f"{base}-4"), 4)
    # text cannot hold U+0000 (the order id is a column of the order's records)
    nul = inbound({**message(f"{base}-2"), "order_id": "a\x00b"}, 2)
    # random, so PostgreSQL cannot compress it under the btree's 2704-byte limit
    long_id = inbound({**message(f"{base}-3"), "event_id": secrets.token_hex(2000)}, 3)
    store = BatchStore(settings, f"test-{base}")
    try:
        outcome = store_isolating(Retrier(store, threading.Event()),
                                  [first, nul, long_id, last], [], BatchReport())
    finally:
        store.close()

    assert [(item, letter.error) for item, letter in outcome.dead] == [
        (nul, "psycopg.errors.CharacterNotInRepertoire"),  # a DataError
        (long_id, "psycopg.errors.ProgramLimitExceeded")]  # not retried as "database away"
    assert outcome.stored.stored == 2
    ids = [i.cause.event_id for i in (first, nul, long_id, last)]
    stored = {r[0] for r in db.execute("SELECT event_id FROM inbox WHERE event_id = ANY(%s)",
                                       (ids,)).fetchall()}
    assert stored == {first.cause.event_id, last.cause.event_id}


def test_the_same_record_read_twice_is_a_silent_duplicate(settings, service, db):
    """The fingerprint tells a reused event_id from the same record again: the second
    copy is skipped, not dead-lettered."""
    order_id = f"twice-{uuid.uuid4().hex[:8]}"
    record = placed(order_id)
    first, second = _produce_in_order(settings, "orders", [
        (_k(order_id), avro(record), _trace("twice"))] * 2)
    wait_for(lambda: committed(settings, "orders")[PARTITION] > second,
             what="both copies to be read")
    assert db.execute('SELECT topic, "partition", "offset" FROM inbox WHERE event_id = %s',
                      (record["event_id"],)).fetchall() == [("orders", PARTITION, first)]
    assert db.execute("SELECT count(*) FROM order_records WHERE event_id = %s",
                      (record["event_id"],)).fetchone() == (1,)
    assert read_topic(settings, "orders.dlq", lambda m: m.key() == _k(order_id),
                      decode=False) == []


def test_a_tracking_number_with_a_colon_is_not_closed_by_a_carrier_with_one(
        settings, service, db):
    """AddTracking ("ups", "x:N") and TrackingUpdated ("ups:x", "N") once joined into
    the same key, "ups:x:N", and the report closed the case. The carrier with ':' is
    refused as bad input; the parcel's own report still closes it."""
    order_id = f"parcel-{uuid.uuid4().hex[:8]}"
    s = Scenario(order_id)
    send(settings, s.placed())
    wait_until_known(db, order_id)
    send(settings, s.open_case())
    wait_for_db_events(db, order_id, 1)
    number = f"x:{order_id}"
    send(settings, s.action("AddTracking", role="seller", carrier="ups",
                            tracking_number=number, proof="tracking"))
    assert [e["type"] for e in wait_for_db_events(db, order_id, 2)] == [
        "CaseOpened", "TrackingAdded"]

    _, report = s.delivered(number=order_id)
    send(settings, ("carrier-tracking", {**report, "carrier": "ups:x"}))
    key = f"ups:x:{order_id}".encode()
    (letter,) = wait_for(lambda: read_topic(settings, "carrier-tracking.dlq",
                                            lambda m: m.key() == key, decode=False),
                         what="the report to be dead-lettered")
    headers = read_headers(letter.headers())
    assert headers["kafka_dlt-exception-fqcn"] == CONTRACT
    assert headers["kafka_dlt-exception-message"] == (
        "field carrier: must not contain ':' (the carrier-tracking key joins the carrier "
        "and the tracking number with it)")
    assert db.execute("SELECT 1 FROM parcel_reports WHERE event_id = %s",
                      (report["event_id"],)).fetchone() is None
    time.sleep(2)  # sweeper passes after it
    assert [e["type"] for e in db_events(db, order_id)] == ["CaseOpened", "TrackingAdded"]

    _, own = s.delivered(number=number)
    send(settings, ("carrier-tracking", {**own, "carrier": "ups"}))
    events = wait_for_db_events(db, order_id, 3)
    assert [e["type"] for e in events] == ["CaseOpened", "TrackingAdded", "CaseClosed"]
    assert events[-1]["close_reason"] == "delivered"
