"""How far a batch read each partition, and the latest time its records carry there: what
a consumer's transaction records in inbound_progress (the watermark's input)."""

from __future__ import annotations

import datetime as dt

from consumers import CONSUMERS
from consumers.batch import DecodedBatch, Limits, decode_into
from consumers.inbound import InboundMessage
from schemas.codec import shared_codec
from service.unit_of_work import PartitionStep
from workload.generator import generate

LIMITS = Limits(1 << 20, dt.timedelta(seconds=5))
AT = dt.datetime(2026, 3, 2, 8, tzinfo=dt.UTC)


def _message(partition: int, offset: int, minutes: int, key: bytes | None = None
             ) -> InboundMessage:
    item = next(i for i in generate(6, 3) if i.topic == "payments")
    record = {**item.record, "event_id": f"steps-{partition}-{offset}",
              "occurred_at": AT + dt.timedelta(minutes=minutes)}
    return InboundMessage("payments", partition, offset,
                          item.key.encode() if key is None else key,
                          shared_codec().encode(record))


def test_each_partition_up_to_its_highest_offset_and_latest_record():
    batch = DecodedBatch()
    decode_into(batch, CONSUMERS["payments"], [
        _message(2, 40, minutes=5), _message(2, 41, minutes=3),  # an earlier time later
        _message(0, 7, minutes=1),
        _message(1, 12, minutes=9, key=b"not-its-key"),  # a dead letter only
        _message(0, 5, minutes=8),  # read after a higher offset (a redrive adds some)
    ], LIMITS)
    assert [offset for (_, offset) in [m.position for m, _ in batch.dead]] == [12]
    assert batch.steps() == [
        PartitionStep("payments", 0, 8, AT + dt.timedelta(minutes=8)),
        PartitionStep("payments", 1, 13, None),  # read past, with no time to tell
        PartitionStep("payments", 2, 42, AT + dt.timedelta(minutes=5)),
    ]


def test_an_empty_batch_moves_nothing():
    assert DecodedBatch().steps() == []
