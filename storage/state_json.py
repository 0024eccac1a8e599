"""Dataclass state to JSON and back, for the aggregates kept as JSONB documents.

Driven by the dataclasses' type hints, so the domain stays free of serialisation code.
Inbound records kept inside an aggregate (held actions, the timeline) carry their type
name.

Every order a batch touches is read and written whole, so this is on the hot path. Each
class gets one generated function each way (as `dataclasses` itself generates
`__init__`): straight-line code per field, a converter only where a field needs one,
made once and cached. A field whose value is its default (None, False, an empty list) is
left out of the document and restored from the default when read, so documents stay
small: PostgreSQL compresses and moves out of line every value over about 2 kB.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import types
import typing
from collections.abc import Callable
from functools import cache
from typing import Any

from domain.records import RECORD_TYPES, InboundRecord

Converter = Callable[[Any], Any]
_MISSING = object()


def _hints(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _optional_inner(hint: Any) -> Any:
    """T for `T | None`, else the hint itself."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        return inner[0]
    return hint


def _is_optional(hint: Any) -> bool:
    return (typing.get_origin(hint) in (typing.Union, types.UnionType)
            and type(None) in typing.get_args(hint))


def _compile(name: str, source: str, namespace: dict[str, Any]) -> Converter:
    # the source is made from the domain's field names (identifiers) and constant
    # defaults only, never from a document or a record
    exec(compile(source, f"<state_json {name}>", "exec"), namespace)
    function: Converter = namespace[name]
    return function


# ---- to JSON -------------------------------------------------------------------------

def to_json(value: Any) -> Any:
    """`value` as JSON-ready data (dicts, lists, strings, numbers, booleans, None)."""
    if value is None or isinstance(value, str | int | float):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _dataclass_encoder(type(value))(value)
    if isinstance(value, dt.date):  # datetimes too
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    return value


def _encode_record(value: InboundRecord) -> dict[str, Any]:
    """Any record type, by the value's class."""
    cls: type = type(value)
    encoded: dict[str, Any] = _dataclass_encoder(cls)(value)
    return encoded


def _each_item(item: Converter) -> Converter:
    return lambda v: [None if x is None else item(x) for x in v]


def _each_value(item: Converter) -> Converter:
    return lambda v: {k: None if x is None else item(x) for k, x in v.items()}


def _encoder(hint: Any) -> Converter | None:
    """How to convert a value of this hint that is not None (None: it is JSON already)."""
    hint = _optional_inner(hint)
    origin = typing.get_origin(hint)
    if origin is list:
        item = _encoder(typing.get_args(hint)[0])
        return list if item is None else _each_item(item)
    if origin is dict:
        item = _encoder(typing.get_args(hint)[1])
        return dict if item is None else _each_value(item)
    if hint is InboundRecord:
        return _encode_record
    if hint in (dt.datetime, dt.date):
        return hint.isoformat
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _dataclass_encoder(hint)
    if hint in (str, int, float, bool):
        return None
    return to_json  # a hint this module does not know: by the value


def _left_out_when(f: dataclasses.Field[Any]) -> str:
    """The condition (on `x`, the field's value) under which the field is not written:
    None always; the default when it is a plain constant; empty for list and dict
    defaults."""
    if f.default_factory in (list, dict):
        return "x is None or not x"
    if f.default is not dataclasses.MISSING and f.default is not None and isinstance(
            f.default, bool | int | str):
        return f"x is None or x == {f.default!r}"
    return "x is None"


@cache
def _dataclass_encoder(cls: type) -> Converter:
    hints = _hints(cls)
    namespace: dict[str, Any] = {}
    lines = ["def encode(value):"]
    type_name = cls.__name__ if issubclass(cls, InboundRecord) else None
    lines.append(f"    out = {{'type': {type_name!r}}}" if type_name else "    out = {}")
    for f in dataclasses.fields(cls):
        convert = _encoder(hints[f.name])
        lines.append(f"    x = value.{f.name}")
        lines.append(f"    if not ({_left_out_when(f)}):")
        if convert is None:
            lines.append(f"        out[{f.name!r}] = x")
        else:
            namespace[f"c_{f.name}"] = convert
            lines.append(f"        out[{f.name!r}] = c_{f.name}(x)")
    lines.append("    return out")
    return _compile("encode", "\n".join(lines), namespace)


# ---- from JSON -----------------------------------------------------------------------

def from_json(hint: Any, value: Any) -> Any:
    """The value of type `hint` that `to_json` made `value` from."""
    if value is None:
        return None
    decode = _decoder(hint)
    return value if decode is None else decode(value)


def _decode_record(value: dict[str, Any]) -> InboundRecord:
    cls: type = RECORD_TYPES[value["type"]]
    decoded: InboundRecord = _dataclass_decoder(cls)(value)
    return decoded


@cache
def _decoder(hint: Any) -> Converter | None:
    """How to convert JSON that is not null to a value of this hint (None: as it is)."""
    hint = _optional_inner(hint)
    origin = typing.get_origin(hint)
    if origin is list:
        item = _decoder(typing.get_args(hint)[0])
        return list if item is None else _each_item(item)
    if origin is dict:
        item = _decoder(typing.get_args(hint)[1])
        return dict if item is None else _each_value(item)
    if hint is InboundRecord:
        return _decode_record
    if hint is dt.datetime:
        return dt.datetime.fromisoformat
    if hint is dt.date:
        return dt.date.fromisoformat
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint  # a member from its value
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _dataclass_decoder(hint)
    return None


@cache
def _dataclass_decoder(cls: type) -> Converter:
    """Keys the class does not have (a held record's "type", a field since removed) are
    ignored; a missing key takes the field's default, or None when it has none."""
    hints = _hints(cls)
    namespace: dict[str, Any] = {"cls": cls, "MISSING": _MISSING}
    lines = ["def decode(value):", "    get = value.get", "    kwargs = {}"]
    for f in dataclasses.fields(cls):
        convert = _decoder(hints[f.name])
        lines.append(f"    x = get({f.name!r}, MISSING)")
        lines.append("    if x is not MISSING:")
        if convert is None:
            lines.append(f"        kwargs[{f.name!r}] = x")
        else:
            namespace[f"c_{f.name}"] = convert
            lines.append(f"        kwargs[{f.name!r}] = None if x is None else c_{f.name}(x)")
        has_default = (f.default is not dataclasses.MISSING
                       or f.default_factory is not dataclasses.MISSING)
        if not has_default and _is_optional(hints[f.name]):
            lines.append(f"    else:\n        kwargs[{f.name!r}] = None")
    lines.append("    return cls(**kwargs)")
    return _compile("decode", "\n".join(lines), namespace)
