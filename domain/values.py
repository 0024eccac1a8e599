"""Frozen values built from their fields at the cost of a plain object.

A frozen dataclass's __init__ sets each field through object.__setattr__; for the
values made for every record read (the message, the typed record, what was read) that
was about a tenth of what decoding a record costs. `assemble` builds the same value the way
unpickling does: a new instance and its fields in one dictionary update.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")

_new = object.__new__


def assemble(cls: type[T], fields: Mapping[str, Any]) -> T:
    """`cls(**fields)` for a dataclass given its fields, no others: the caller sees to
    that (`Shape.build` does when it cannot know). A field left out reads its plain
    default from the class; one without a default, or with a factory, is missing."""
    value = _new(cls)
    value.__dict__.update(fields)
    return value


@dataclasses.dataclass(frozen=True)
class Shape:
    """A dataclass's fields and their defaults, looked up once."""

    cls: type[Any]
    names: frozenset[str]
    defaults: Mapping[str, Any]
    #: the fields in their order, for a mapping that holds every one
    order: tuple[str, ...]

    @classmethod
    def of(cls, dataclass: type[Any]) -> Shape:
        if not dataclasses.is_dataclass(dataclass) or hasattr(dataclass, "__slots__") or (
                hasattr(dataclass, "__post_init__")):
            raise TypeError(f"{dataclass.__name__} is not a dataclass assemble can build")
        fields = dataclasses.fields(dataclass)
        return cls(dataclass, frozenset(f.name for f in fields),
                   {f.name: f.default for f in fields if f.default is not dataclasses.MISSING},
                   tuple(f.name for f in fields))

    def build(self, values: Mapping[str, Any]) -> Any:
        """The value from a mapping that may hold other keys (ignored) or lack fields
        with defaults; one lacking a field without a default fails as __init__ does."""
        try:  # a decoded record holds every field: taken by name, in one pass
            return assemble(self.cls, {name: values[name] for name in self.order})
        except KeyError:
            pass
        fields = dict(self.defaults)
        names = self.names
        for name, value in values.items():
            if name in names:
                fields[name] = value
        if len(fields) != len(names):
            return self.cls(**fields)  # raises TypeError naming the missing field
        return assemble(self.cls, fields)
