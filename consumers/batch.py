"""A poll batch decoded: each message becomes a record to store or a dead letter, with
why. Every check of the contract runs here, before anything reaches the database."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import structlog

from consumers.dead_letters import MAX_KEY_BYTES, DeadLetter, qualified
from consumers.inbound import InboundMessage
from consumers.spec import TopicSpec
from domain.values import assemble
from schemas import record_key
from schemas.codec import HEADER_LENGTH, DecodeError, shared_codec
from schemas.json_form import ContractError, check_contract
from service.unit_of_work import Cause, Inbound, PartitionStep

log = structlog.get_logger("consumers.batch")


class RecordTooLarge(ValueError):
    """A key or value over the size this service reads (MAX_KEY_BYTES,
    CASES_MAX_RECORD_BYTES)."""


class MissingKey(ValueError):
    """A message without a key, or with an empty one: the contract keys every topic."""


class FutureRecord(ValueError):
    """A record dated after it reached Kafka (beyond the clock-skew tolerance): it would
    move the service's clock ahead of the wall clock."""


@dataclass(frozen=True)
class Limits:
    max_record_bytes: int
    #: how far a record's occurred_at may be after its Kafka timestamp (clocks differ)
    clock_skew: dt.timedelta

    def batch_clock(self, now: dt.datetime | None = None) -> BatchClock:
        """The clock of a batch read `now` (default: this moment)."""
        return BatchClock(now or dt.datetime.now(dt.UTC), self.clock_skew)


class BatchClock:
    """No record is dated after it reached Kafka, nor after its batch was read (one
    moment for the whole batch), beyond the clock-skew tolerance. The bound is worked
    out once for each Kafka timestamp, not for each record: a broker stamps all the
    records of a produced batch with one LogAppendTime."""

    def __init__(self, now: dt.datetime, skew: dt.timedelta) -> None:
        self.now, self.skew = now, skew
        self._stamp: int | None = None
        self._reached = now
        self._latest = now + skew

    def check(self, msg: InboundMessage, occurred_at: dt.datetime) -> None:
        stamp = msg.timestamp if msg.timestamp >= 0 and msg.timestamp_type else -1
        if stamp != self._stamp:
            self._stamp = stamp
            self._reached = self.now if stamp < 0 else min(
                self.now, dt.datetime.fromtimestamp(stamp / 1000, dt.UTC))
            self._latest = self._reached + self.skew
        if occurred_at > self._latest:
            raise FutureRecord(
                f"occurred_at {occurred_at.isoformat()} is after the record reached Kafka "
                f"({self._reached.isoformat(timespec='milliseconds')}) by more than the "
                f"{self.skew.total_seconds():g}-second clock-skew tolerance")


@dataclass
class BatchReport:
    """What one batch did, and where its time went (seconds per stage; `seconds` is
    their sum, the time the batch kept the consumer busy)."""

    records: int = 0
    stored: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    seconds: float = 0.0
    decode: float = 0.0
    sql: float = 0.0
    commit: float = 0.0
    dlq: float = 0.0
    offsets: float = 0.0
    #: dead letters by the error's class name
    dead_by_error: dict[str, int] = field(default_factory=dict)


@dataclass
class DecodedBatch:
    """A poll batch decoded: the records to store and those already dead letters."""

    report: BatchReport = field(default_factory=BatchReport)
    good: list[Inbound] = field(default_factory=list)
    dead: list[tuple[InboundMessage, DeadLetter]] = field(default_factory=list)
    by_position: dict[tuple[int, int], InboundMessage] = field(default_factory=dict)

    def steps(self) -> list[PartitionStep]:
        """How far the batch read each partition (sorted: rows are locked in order).
        A batch is one topic's (its positions are partition and offset)."""
        if not self.by_position:
            return []
        topic = next(iter(self.by_position.values())).topic
        last: dict[int, int] = {}
        for partition, offset in self.by_position:  # run for every record: keys only
            if offset > last.get(partition, -1):
                last[partition] = offset
        frontier: dict[int, dt.datetime] = {}
        for item in self.good:
            partition, occurred_at = item.cause.partition, item.fields["occurred_at"]
            latest = frontier.get(partition)
            if latest is None or occurred_at > latest:
                frontier[partition] = occurred_at
        return [PartitionStep(topic, p, o + 1, frontier.get(p)) for p, o in sorted(last.items())]


def decode_into(batch: DecodedBatch, spec: TopicSpec, messages: Iterable[InboundMessage],
                limits: Limits) -> None:
    started = time.perf_counter()
    clock = limits.batch_clock()
    for msg in messages:
        batch.by_position[msg.position] = msg
        decoded = decode(spec, msg, limits, clock)
        if isinstance(decoded, DeadLetter):
            batch.dead.append((msg, decoded))
        else:
            batch.good.append(decoded)
    batch.report.decode += time.perf_counter() - started


def decode(spec: TopicSpec, msg: InboundMessage, limits: Limits,
           clock: BatchClock) -> Inbound | DeadLetter:
    """The record in a message, or why it is a dead letter (`clock`: its batch's).
    Never raises: whatever is wrong with one record must not stop the consumer."""
    key, value = msg.key, msg.value
    if key is not None and len(key) > MAX_KEY_BYTES:  # no key of the contract is this long
        return DeadLetter(qualified(RecordTooLarge),
                          f"key of {len(key)} bytes is over the {MAX_KEY_BYTES}-byte limit")
    if value is not None and len(value) > limits.max_record_bytes:  # before any decoding
        return DeadLetter(qualified(RecordTooLarge),
                          f"value of {len(value)} bytes is over the "
                          f"{limits.max_record_bytes}-byte limit (CASES_MAX_RECORD_BYTES)")
    try:
        codec = shared_codec()
        record = codec.decode(value)
        if record["type"] not in spec.record_types:
            raise ContractError("type", f"{record['type']} does not belong on topic "
                                        f"{spec.topic}")
        check_contract(record)
        _check_key(spec.topic, key, record)
        clock.check(msg, record["occurred_at"])
        assert value is not None  # decode refuses an empty value
        writer = value[2:HEADER_LENGTH]
        current = codec.current[record["type"]].fingerprint
        # the body in the current schema says what the record holds, whichever version
        # of its schema it was written with (Avro's binary form of a value is unique)
        body = value[HEADER_LENGTH:] if writer == current else codec.encode(
            record)[HEADER_LENGTH:]
        return assemble(Inbound, {  # made for every record read (domain.values)
            "cause": Cause(spec.topic, msg.partition, msg.offset, record["event_id"]),
            "fields": record,
            "fingerprint": hashlib.sha256(body).digest()[:16],
            "payload": spec.keep(record, value), "headers": msg.headers,
            "timestamp": msg.timestamp})
    except (DecodeError, ContractError, MissingKey, FutureRecord) as exc:
        return DeadLetter(qualified(type(exc)), str(exc))
    except Exception as exc:  # a case no check foresaw: still the record's, not ours
        log.error("undecodable_record", topic=spec.topic, partition=msg.partition,
                  offset=msg.offset, error=qualified(type(exc)))
        return DeadLetter(qualified(type(exc)), str(exc) or type(exc).__name__)


def _check_key(topic: str, key: bytes | None, record: dict[str, object]) -> None:
    expected = record_key(topic, record)
    if key is None:
        raise MissingKey(f"the message has no key (expected {expected!r})")
    if not key:
        raise MissingKey(f"the message key is empty (expected {expected!r})")
    try:
        text = key.decode("utf-8")
    except UnicodeDecodeError:
        raise ContractError("key", f"the message key is not UTF-8 text (expected "
                                   f"{expected!r})") from None
    if text != expected:
        raise ContractError("key", f"the message key does not match the record "
                                   f"(expected {expected!r})")
