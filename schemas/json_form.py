"""The JSON form of records (docs/contract.md, Records), checked against the Avro schemas.

`from_json` turns one JSON object into the record the Avro codec writes, naming the field
of the first problem it finds; `to_json` turns a decoded record back into JSON form.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Any

from schemas import TOPICS
from schemas.codec import Codec, shared_codec


class ContractError(ValueError):
    """A record that breaks the contract; `field` is the dotted path of the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"field {field}: {message}" if field else message)
        self.field = field
        self.message = message


def shown(value: Any, limit: int = 40) -> str:
    """A value as an error message quotes it: its repr, cut short, so a reason (a DLQ
    header, a line on stderr) stays small whatever a producer sent."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


_PRIMITIVE_NAMES = {"string": "a string", "long": "an integer", "int": "an integer",
                    "boolean": "true or false", "null": "null"}


def _parse_timestamp(value: Any, path: str) -> dt.datetime:
    if not isinstance(value, str):
        raise ContractError(path, "expected an ISO-8601 timestamp string")
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ContractError(path, f"not an ISO-8601 timestamp: {shown(value)}") from None
    if parsed.tzinfo is None:
        raise ContractError(path, "timestamp needs a UTC offset, e.g. 'Z'")
    return parsed.astimezone(dt.timezone.utc)


def _parse_date(value: Any, path: str) -> dt.date:
    if not isinstance(value, str):
        raise ContractError(path, "expected an ISO date string")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ContractError(path, f"not an ISO date: {shown(value)}") from None


def _convert(value: Any, schema: Any, path: str) -> Any:
    if isinstance(schema, list):  # a union: only ["null", T] is used in these contracts
        if value is None:
            if "null" in schema:
                return None
            raise ContractError(path, "must not be null")
        branch = next(s for s in schema if s != "null")
        return _convert(value, branch, path)
    if isinstance(schema, str):
        return _convert_primitive(value, schema, path)
    kind = schema["type"]
    logical = schema.get("logicalType")
    if logical == "timestamp-millis":
        return _parse_timestamp(value, path)
    if logical == "date":
        return _parse_date(value, path)
    if kind == "record":
        if not isinstance(value, dict):
            raise ContractError(path, "expected an object")
        known = {f["name"] for f in schema["fields"]}
        unknown = sorted(set(value) - known)
        if unknown:
            where = f"{path}.{unknown[0]}" if path else unknown[0]
            raise ContractError(where, "is not a field of " + schema["name"].rsplit(".", 1)[-1])
        out = {}
        for field in schema["fields"]:
            name = field["name"]
            sub = f"{path}.{name}" if path else name
            if name not in value:
                if "default" in field:
                    out[name] = field["default"]
                    continue
                raise ContractError(sub, "is required")
            out[name] = _convert(value[name], field["type"], sub)
        return out
    if kind == "enum":
        if value not in schema["symbols"]:
            raise ContractError(path, f"{shown(value)} is not one of "
                                      f"{', '.join(schema['symbols'])}")
        return value
    return _convert_primitive(value, kind, path)


def _convert_primitive(value: Any, kind: str, path: str) -> Any:
    ok = {
        "string": isinstance(value, str),
        "long": isinstance(value, int) and not isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        "null": value is None,
    }.get(kind)
    if ok is None:
        raise ContractError(path, f"unsupported schema type {kind}")
    if not ok:
        raise ContractError(path, f"expected {_PRIMITIVE_NAMES[kind]}, got {shown(value)}")
    if kind == "string" and not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:  # JSON's \ud800 escapes make lone surrogates
            raise ContractError(path, f"is not Unicode text (a lone surrogate, "
                                      f"U+{ord(value[exc.start]):04X})") from None
    return value


def from_json(topic: str, obj: Any, codec: Codec | None = None) -> dict[str, Any]:
    """Check one JSON object against the topic's contract and return the Avro record."""
    codec = codec or shared_codec()
    if not isinstance(obj, dict):
        raise ContractError("", "expected a JSON object")
    record_type = obj.get("type")
    allowed = TOPICS[topic]
    if record_type not in allowed:
        raise ContractError("type", f"{shown(record_type)} is not a record type of topic {topic} "
                                    f"({', '.join(allowed)})")
    record = _convert(obj, codec.current[record_type].parsed, "")
    check_contract(record)
    return record


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    return value


def to_json(record: dict[str, Any]) -> dict[str, Any]:
    """A decoded record in JSON form (timestamps as ISO-8601 UTC, dates as ISO dates)."""
    return {k: _json_value(v) for k, v in record.items()}


EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.timezone.utc)
_ID_FIELDS = ("event_id", "order_id", "buyer_id", "seller_id", "actor_id", "sender_id",
              "payment_id", "refund_id", "carrier", "tracking_number")
_DATE_FIELDS = ("ship_by", "estimated_delivery")
#: ids are primary keys: PostgreSQL refuses a btree entry over 2704 bytes, and a parcel's
#: key joins carrier, tracking number and order id (3 x 128 characters, 4 bytes at most each)
ID_MAX_LENGTH = 128
#: the largest integer a JSON number carries exactly (the JSON form, downstream readers);
#: it also keeps any order's sum of refunds far inside Avro's long
AMOUNT_MAX = 2**53 - 1


# ISO 4217's currency codes and ISO 3166-1's alpha-2 country codes, as pycountry carries
# them (Debian's iso-codes), less the two currency codes that name no money: XXX (no
# currency) and XTS (reserved for testing). Read at the first check that needs them: a
# process that never checks money or an address (the sweeper, the relay, most consumers)
# does not load pycountry's tables at start.
@cache
def currencies() -> frozenset[str]:
    import pycountry
    return frozenset(c.alpha_3 for c in pycountry.currencies) - {"XXX", "XTS"}


@cache
def countries() -> frozenset[str]:
    import pycountry
    return frozenset(c.alpha_2 for c in pycountry.countries)


def _check_money(money: dict[str, Any], path: str) -> None:
    if money["amount_minor"] < 0:
        raise ContractError(f"{path}.amount_minor", "must not be negative")
    if money["amount_minor"] > AMOUNT_MAX:
        raise ContractError(f"{path}.amount_minor", f"is more than {AMOUNT_MAX} (2^53 - 1)")
    currency = money["currency"]
    if currency not in currencies():
        raise ContractError(f"{path}.currency", f"{shown(currency)} is not an ISO 4217 code")


def _check_address(address: dict[str, Any], path: str) -> None:
    country = address["country"]
    if country not in countries():
        raise ContractError(f"{path}.country",
                            f"{shown(country)} is not an ISO 3166-1 alpha-2 code")
    for field in ("line1", "postal_code"):
        if not address[field].strip():
            raise ContractError(f"{path}.{field}", "must not be empty")


def _check_text(record: dict[str, Any], prefix: str = "") -> None:
    """No string may hold U+0000: PostgreSQL text and jsonb cannot store it, and a record
    the database refuses would otherwise fail its whole batch. (Every record is checked:
    a field's path is only made for the culprit.)"""
    for name, value in record.items():
        kind = type(value)  # what the Avro reader gives: str, dict or a scalar, exactly
        if kind is str:
            if "\x00" in value:
                raise ContractError(prefix + name, "contains a NUL character (U+0000)")
        elif kind is dict:
            _check_text(value, f"{prefix}{name}.")


def check_contract(record: dict[str, Any]) -> None:
    """What the contract asks beyond the Avro types: ids present and of a sane length,
    text the database can store, sane money, times and dates."""
    _check_text(record)
    for field in _ID_FIELDS:
        value = record.get(field)
        if value is None:
            continue
        if not str(value).strip():
            raise ContractError(field, "must not be empty")
        if len(value) > ID_MAX_LENGTH:
            raise ContractError(field, f"is {len(value)} characters long, more than the "
                                       f"{ID_MAX_LENGTH} an id may have")
    if ":" in record.get("carrier", ""):
        raise ContractError("carrier", "must not contain ':' (the carrier-tracking key "
                                       "joins the carrier and the tracking number with it)")
    occurred_at = record["occurred_at"]
    if not EARLIEST <= occurred_at < LATEST:
        raise ContractError("occurred_at", f"{occurred_at.isoformat()} is outside "
                                           f"{EARLIEST.date()} to {LATEST.date()}")
    for field in _DATE_FIELDS:
        day = record.get(field)
        if day is not None and not EARLIEST.date() <= day < LATEST.date():
            raise ContractError(field, f"{day.isoformat()} is outside "
                                       f"{EARLIEST.date()} to {LATEST.date()}")
    for field in ("total", "amount"):
        if field in record:
            _check_money(record[field], field)
    for field in ("shipping_address", "delivered_to"):
        if record.get(field) is not None:
            _check_address(record[field], field)
