"""Dataclass state to JSON and back, for the aggregates kept as JSONB documents.

Driven by the dataclasses' type hints, so the domain stays free of serialisation code.
Inbound records kept inside an aggregate (held actions) carry their type name.

Every order a batch touches is read and written whole, so this is on the hot path: each
class's hints are read once and turned into a converter per field (none at all for
plain values: strings, numbers, booleans), cached, rather than walked for every value.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import types
import typing
from collections.abc import Callable
from functools import cache
from typing import Any

from domain.records import RECORD_TYPES, InboundRecord

Converter = Callable[[Any], Any]
#: per field: its name and how to convert a value that is not None (None: as it is)
FieldSpec = tuple[tuple[str, Converter | None], ...]


def _hints(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _optional_inner(hint: Any) -> Any:
    """T for `T | None`, else the hint itself."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        return inner[0]
    return hint


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


def _encoder(hint: Any) -> Converter | None:
    """How to convert a value of this hint that is not None (None: it is JSON already)."""
    hint = _optional_inner(hint)
    origin = typing.get_origin(hint)
    if origin is list:
        item = _encoder(typing.get_args(hint)[0])
        return list if item is None else (lambda v: [None if x is None else item(x) for x in v])
    if origin is dict:
        item = _encoder(typing.get_args(hint)[1])
        return dict if item is None else (
            lambda v: {k: None if x is None else item(x) for k, x in v.items()})
    if hint is InboundRecord:  # any record type: by the value's class
        return lambda v: _dataclass_encoder(type(v))(v)
    if hint in (dt.datetime, dt.date):
        return hint.isoformat  # type: ignore[no-any-return]
    if dataclasses.is_dataclass(hint):
        return _dataclass_encoder(hint)  # type: ignore[arg-type]
    if hint in (str, int, float, bool):
        return None
    return to_json  # a hint this module does not know: by the value


@cache
def _dataclass_encoder(cls: type) -> Converter:
    spec: FieldSpec = tuple((name, _encoder(hint)) for name, hint in _hints(cls).items())
    type_name = cls.__name__ if issubclass(cls, InboundRecord) else None

    def encode(value: Any) -> dict[str, Any]:
        out: dict[str, Any] = {} if type_name is None else {"type": type_name}
        for name, convert in spec:
            v = getattr(value, name)
            out[name] = v if convert is None or v is None else convert(v)
        return out

    return encode


# ---- from JSON -----------------------------------------------------------------------

def from_json(hint: Any, value: Any) -> Any:
    """The value of type `hint` that `to_json` made `value` from."""
    if value is None:
        return None
    decode = _decoder(hint)
    return value if decode is None else decode(value)


@cache
def _decoder(hint: Any) -> Converter | None:
    """How to convert JSON that is not null to a value of this hint (None: as it is)."""
    hint = _optional_inner(hint)
    origin = typing.get_origin(hint)
    if origin is list:
        item = _decoder(typing.get_args(hint)[0])
        return list if item is None else (lambda v: [None if x is None else item(x) for x in v])
    if origin is dict:
        item = _decoder(typing.get_args(hint)[1])
        return dict if item is None else (
            lambda v: {k: None if x is None else item(x) for k, x in v.items()})
    if hint is InboundRecord:
        return lambda v: _dataclass_decoder(RECORD_TYPES[v["type"]])(v)
    if hint is dt.datetime:
        return dt.datetime.fromisoformat
    if hint is dt.date:
        return dt.date.fromisoformat
    if dataclasses.is_dataclass(hint):
        return _dataclass_decoder(hint)  # type: ignore[arg-type]
    return None


@cache
def _dataclass_decoder(cls: type) -> Converter:
    fields = {name: _decoder(hint) for name, hint in _hints(cls).items()}

    def decode(value: dict[str, Any]) -> Any:
        kwargs = {}
        for name, v in value.items():
            if name in fields:  # "type" of a held record, or a field since removed
                convert = fields[name]
                kwargs[name] = v if convert is None or v is None else convert(v)
        return cls(**kwargs)

    return decode
