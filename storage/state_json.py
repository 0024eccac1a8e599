"""Dataclass state to JSON and back, for the aggregates kept as JSONB documents.

Driven by the dataclasses' type hints, so the domain stays free of serialisation code.
Inbound records kept inside an aggregate (held actions) carry their type name.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import types
import typing
from functools import cache
from typing import Any

from domain.records import RECORD_TYPES, InboundRecord


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def to_json(value: Any) -> Any:
    if isinstance(value, InboundRecord):
        return {"type": type(value).__name__, **_dataclass_to_json(value)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _dataclass_to_json(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    return value


def _dataclass_to_json(value: Any) -> dict[str, Any]:
    return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}


def from_json(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        return from_json(inner[0], value)
    if origin is list:
        (item,) = typing.get_args(hint)
        return [from_json(item, v) for v in value]
    if origin is dict:
        _, item = typing.get_args(hint)
        return {k: from_json(item, v) for k, v in value.items()}
    if hint is InboundRecord:
        cls = RECORD_TYPES[value["type"]]
        return _dataclass_from_json(cls, {k: v for k, v in value.items() if k != "type"})
    if hint is dt.datetime:
        return dt.datetime.fromisoformat(value)
    if hint is dt.date:
        return dt.date.fromisoformat(value)
    if dataclasses.is_dataclass(hint):
        return _dataclass_from_json(hint, value)
    return value


def _dataclass_from_json(cls: type, value: dict[str, Any]) -> Any:
    hints = _hints(cls)
    return cls(**{name: from_json(hints[name], v) for name, v in value.items()
                  if name in hints})
