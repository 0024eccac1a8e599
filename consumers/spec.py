"""What each inbound topic's consumer needs to know about its topic."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: the bytes kept for a decoded record, from the record and its original value
Keep = Callable[[dict[str, Any], bytes], bytes]


def as_read(_record: dict[str, Any], value: bytes) -> bytes:
    return value


@dataclass(frozen=True)
class TopicSpec:
    topic: str
    record_types: tuple[str, ...]
    #: what the service keeps of a record's value (the sweeper decodes it again)
    keep: Keep = field(default=as_read)
