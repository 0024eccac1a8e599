"""A consumer refuses a record dated after it reached Kafka, or after its batch was read,
beyond the clock-skew tolerance; the bound is worked out once for each Kafka timestamp
(consumers.batch.BatchClock), and each message is held to its own timestamp's."""

from __future__ import annotations

import datetime as dt
from typing import Any

from consumers import CONSUMERS
from consumers.batch import DecodedBatch, FutureRecord, Limits, decode, decode_into
from consumers.dead_letters import DeadLetter, qualified
from consumers.inbound import InboundMessage
from schemas.codec import shared_codec
from workload.generator import generate

SKEW = dt.timedelta(seconds=5)
LIMITS = Limits(1 << 20, SKEW)
NOW = dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC)
LOG_APPEND_TIME = 2


def _message(offset: int, occurred_at: dt.datetime, reached: dt.datetime | None
             ) -> InboundMessage:
    item = next(i for i in generate(5, 3) if i.topic == "payments")
    record: dict[str, Any] = {**item.record, "occurred_at": occurred_at,
                              "event_id": f"clock-{offset}"}
    stamp = -1 if reached is None else int(reached.timestamp() * 1000)
    return InboundMessage("payments", 0, offset, item.key.encode(),
                          shared_codec().encode(record), (),
                          0 if reached is None else LOG_APPEND_TIME, stamp)


def _refused(*messages: InboundMessage) -> list[int]:
    """The offsets refused as dated in the future, in one batch read at NOW."""
    clock = LIMITS.batch_clock(NOW)
    refused = []
    for msg in messages:
        found = decode(CONSUMERS["payments"], msg, LIMITS, clock)
        if isinstance(found, DeadLetter):
            assert found.error == qualified(FutureRecord), found
            refused.append(msg.offset)
    return refused


def test_each_message_is_held_to_its_own_timestamp():
    early, late = NOW - dt.timedelta(hours=2), NOW - dt.timedelta(hours=1)
    between = early + dt.timedelta(minutes=30)
    assert _refused(
        _message(0, between, late),    # dated before it reached Kafka: kept
        _message(1, between, early),   # the same date, stamped earlier: refused
        _message(2, between, early),   # and again with that timestamp
        _message(3, early + SKEW, early),  # within the tolerance: kept
        _message(4, between, late),    # back to the later timestamp: kept
    ) == [1, 2]


def test_without_a_timestamp_the_batch_is_the_bound():
    assert _refused(_message(0, NOW + SKEW, None),
                    _message(1, NOW + SKEW + dt.timedelta(seconds=1), None),
                    _message(2, NOW + dt.timedelta(hours=1), NOW + dt.timedelta(hours=2)),
                    ) == [1, 2]


def test_the_reason_names_when_the_record_reached_kafka():
    batch = DecodedBatch()
    stamped = NOW - dt.timedelta(hours=1)
    decode_into(batch, CONSUMERS["payments"],
                [_message(0, stamped + dt.timedelta(minutes=1), stamped)], LIMITS)
    [(_, letter)] = batch.dead
    assert letter.error == qualified(FutureRecord)
    assert "2026-03-02T11:00:00.000+00:00" in letter.reason
    assert "5-second clock-skew tolerance" in letter.reason
