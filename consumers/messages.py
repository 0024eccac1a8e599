"""The `messages` consumer: MessageSent, keyed by order id (rule 2, domain.messages).

No rule reads a message's body, and it is personal data: the record is kept without it
(re-encoded with an empty body), so it never reaches the database."""

from __future__ import annotations

from typing import Any

from consumers.spec import TopicSpec
from schemas import INBOUND_TOPICS
from schemas.codec import shared_codec


def without_body(record: dict[str, Any], _value: bytes) -> bytes:
    return shared_codec().encode({**record, "body": ""})


SPEC = TopicSpec("messages", INBOUND_TOPICS["messages"], keep=without_body)
