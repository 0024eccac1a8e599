"""What a consumer keeps of a decoded record: its fields, from which it is stored; the
typed record only when something asks for it, and no personal data in a repr."""

from __future__ import annotations

import datetime as dt
from typing import Any

from consumers import CONSUMERS
from consumers.batch import DecodedBatch, Limits, decode_into
from consumers.inbound import InboundMessage
from domain.records import MessageSent, OrderPlaced, from_record
from schemas.codec import shared_codec
from workload.generator import generate

LIMITS = Limits(1 << 20, dt.timedelta(seconds=5))


def _decoded(topic: str, record_type: str, **changes: Any) -> DecodedBatch:
    item = next(i for i in generate(7, 40) if i.record["type"] == record_type)
    record = {**item.record, **changes}
    batch = DecodedBatch()
    decode_into(batch, CONSUMERS[topic], [InboundMessage(
        topic, 0, 0, item.key.encode(), shared_codec().encode(record))], LIMITS)
    assert not batch.dead, batch.dead
    return batch


def test_the_fields_are_the_record_as_decoded_and_the_typed_record_is_built_when_asked():
    batch = _decoded("orders", "OrderPlaced")
    inbound = batch.good[0]
    assert inbound.fields["type"] == "OrderPlaced"
    assert "record" not in vars(inbound)  # not built by decoding
    record = inbound.record
    assert isinstance(record, OrderPlaced)
    assert record == from_record(inbound.fields)
    assert record.total.amount_minor == inbound.fields["total"]["amount_minor"]
    assert inbound.record is record  # built once
    assert {inbound: 1}[batch.good[0]] == 1  # hashable, as it was with a typed record


def test_a_message_body_stays_out_of_the_repr():
    body = "Please ring twice, the flat is on the third floor"
    batch = _decoded("messages", "MessageSent", body=body)
    inbound = batch.good[0]
    assert inbound.fields["body"] == body
    assert isinstance(inbound.record, MessageSent)
    assert body not in repr(inbound)
    assert body not in repr(batch.good)
