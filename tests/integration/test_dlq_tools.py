"""`cases dlq list` and `cases dlq redrive` on dead letters no consumer of ours wrote:
a null `kafka_dlt-exception-message` (it made both fail with a traceback), no headers at
all, binary garbage in the headers, number headers of the wrong size; and a letter kept
without its value (too large), whose redrive must keep its reason."""

from __future__ import annotations

import json
import secrets
import struct
import time
import uuid
from typing import Any

import psycopg
import pytest
from confluent_kafka import Producer

from configuration import Settings
from consumers import dead_letters as dlq
from schemas.codec import shared_codec
from tests.integration import clock
from tests.integration.conftest import cases, read_topic, wait_for
from tests.integration.scenario import Scenario

pytestmark = pytest.mark.integration

Headers = list[tuple[str, bytes | None]]


def _spring(topic: str, partition: bytes, offset: bytes, reason: bytes | None) -> Headers:
    now = struct.pack(">q", int(time.time() * 1000))
    return [(dlq.ORIGINAL_TOPIC, topic.encode()), (dlq.ORIGINAL_PARTITION, partition),
            (dlq.ORIGINAL_OFFSET, offset), (dlq.ORIGINAL_TIMESTAMP, now),
            (dlq.ORIGINAL_CONSUMER_GROUP, b"someone-else"),
            (dlq.EXCEPTION_FQCN, b"com.example.SomeError"), (dlq.EXCEPTION_MESSAGE, reason)]


def _put(settings: Settings, letters: list[tuple[bytes, bytes | None, Headers | None]]) -> None:
    producer = Producer(settings.kafka())
    for key, value, headers in letters:
        producer.produce("orders.dlq", key=key, value=value, headers=headers)
    assert producer.flush(30) == 0


def _placed(order_id: str) -> dict[str, Any]:
    return Scenario(order_id).placed()[1]


def _stored(db: psycopg.Connection, event_id: str) -> bool:
    return db.execute("SELECT 1 FROM inbox WHERE event_id = %s", (event_id,)).fetchone() is not None


def test_malformed_dead_letters_are_listed_and_redriven_not_a_traceback(settings, env, db):
    base = f"odd-{uuid.uuid4().hex[:8]}"
    # positions no real record has (the catalogue of bad input matches letters by theirs)
    at = 10**12 + secrets.randbelow(10**9)
    names = ("null-reason", "no-headers", "garbage", "wrong-size", "garbage-value")
    keys = {name: f"{base}-{name}".encode() for name in names}
    records = {name: _placed(keys[name].decode()) for name in names[:4]}
    codec = shared_codec()

    def value(name: str) -> bytes:
        return codec.encode(clock.move_record(records[name]))

    _put(settings, [
        (keys["null-reason"], value("null-reason"),
         _spring("orders", struct.pack(">i", 0), struct.pack(">q", at), None)),
        (keys["no-headers"], value("no-headers"), None),
        (keys["garbage"], value("garbage"),
         [("traceparent", b"\xff\x00\xfe"), (dlq.ORIGINAL_TOPIC, b"\x80\x81"),
          (dlq.EXCEPTION_FQCN, b"\xc3\x28"), (dlq.EXCEPTION_MESSAGE, b"\xff\xfe\xfd"),
          (dlq.ORIGINAL_TIMESTAMP_TYPE, b"\x00\x01"), (dlq.ORIGINAL_CONSUMER_GROUP, None)]),
        (keys["wrong-size"], value("wrong-size"),
         [*_spring("orders", b"\x00\x01\x02", b"\x00\x00\x00\x05", b"odd sizes"),
          (dlq.ORIGINAL_TIMESTAMP, b"\x01\x02")]),
        (keys["garbage-value"], b"\x00\x01 not avro",
         _spring("orders", struct.pack(">i", 0), struct.pack(">q", at + 1), None)),
    ])

    listed = cases(env, "dlq", "list", "orders", "--json")
    assert listed.returncode == 0, listed.stderr
    assert "Traceback" not in listed.stderr
    plain = cases(env, "dlq", "list", "orders")
    assert plain.returncode == 0, plain.stderr
    assert "Traceback" not in plain.stderr

    entries = {(e["dlq_partition"], e["dlq_offset"]): e
               for e in map(json.loads, listed.stdout.splitlines())}
    letters = read_topic(settings, "orders.dlq", lambda m: m.key() in keys.values(),
                         decode=False)
    name_of = {key: name for name, key in keys.items()}
    shown = {name_of[m.key()]: entries[(m.partition(), m.offset())] for m in letters}
    assert set(shown) == set(names)
    assert shown["null-reason"]["reason"] == ""  # a null header is left out
    assert shown["null-reason"]["original"] == f"orders/0/{at}"
    assert shown["no-headers"]["original"] == "orders/?/?"
    assert (shown["no-headers"]["error"], shown["no-headers"]["reason"]) == ("", "")
    assert shown["garbage"]["reason"] == "\ufffd\ufffd\ufffd"  # shown, replaced
    assert shown["garbage"]["error"] == "\ufffd("
    assert shown["wrong-size"]["original"] == "orders/\x00\x01\x02/\x00\x00\x00\x05"
    assert shown["wrong-size"]["original_time"] is None
    assert not any(e["redriven"] for e in shown.values())

    redrive = cases(env, "dlq", "redrive", "orders")
    assert redrive.returncode == 0, redrive.stderr
    assert "Traceback" not in redrive.stderr
    # the four records are stored, where their headers say they were (or where the
    # letter is, when they cannot say)
    for name in names[:4]:
        assert _stored(db, records[name]["event_id"]), name
    assert db.execute("SELECT \"offset\" FROM inbox WHERE event_id = %s",
                      (records["null-reason"]["event_id"],)).fetchone() == (at,)
    # the garbage value is a dead letter again, with our headers this time
    again = wait_for(lambda: [m for m in read_topic(
        settings, "orders.dlq", lambda m: m.key() == keys["garbage-value"], decode=False)
        if dlq.read_headers(m.headers()).get(dlq.ORIGINAL_CONSUMER_GROUP)
        == "order-cases.redrive.orders"], what="the garbage to be dead-lettered again")
    headers = dlq.read_headers(again[0].headers())
    assert headers[dlq.EXCEPTION_FQCN] == "schemas.codec.DecodeError"
    assert headers[dlq.ORIGINAL_OFFSET] == at + 1
    relisted = cases(env, "dlq", "list", "orders", "--json")
    assert relisted.returncode == 0, relisted.stderr


def test_a_letter_kept_without_its_value_keeps_its_reason_through_a_redrive(settings, env):
    """Too large for the DLQ, a letter holds the headers alone; its redrive used to read
    the missing value as a tombstone and replace the reason with 'empty value'."""
    key = f"no-value-{uuid.uuid4().hex[:8]}".encode()
    at = 10**12 + secrets.randbelow(10**9)
    reason = ("value of 1009998 bytes is over the 524288-byte limit (CASES_MAX_RECORD_BYTES)"
              "; the 1009998-byte value is not copied, too large for orders.dlq: read it at "
              f"orders[0]@{at}")
    _put(settings, [(key, None, [
        (dlq.ORIGINAL_TOPIC, b"orders"), (dlq.ORIGINAL_PARTITION, struct.pack(">i", 0)),
        (dlq.ORIGINAL_OFFSET, struct.pack(">q", at)),
        (dlq.ORIGINAL_TIMESTAMP, struct.pack(">q", 0)),
        (dlq.ORIGINAL_CONSUMER_GROUP, b"order-cases.orders"),
        (dlq.EXCEPTION_FQCN, b"consumers.batch.RecordTooLarge"),
        (dlq.EXCEPTION_MESSAGE, reason.encode())])])

    redrive = cases(env, "dlq", "redrive", "orders")
    assert redrive.returncode == 0, redrive.stderr
    copies = wait_for(lambda: (found := read_topic(settings, "orders.dlq",
                                                   lambda m: m.key() == key, decode=False))
                      and len(found) == 2 and found, what="the letter to be sent back")
    _first, again = (dlq.read_headers(m.headers()) for m in copies)
    assert again[dlq.EXCEPTION_FQCN] == "consumers.batch.RecordTooLarge"
    assert again[dlq.EXCEPTION_MESSAGE] == reason
    assert again[dlq.ORIGINAL_OFFSET] == at
    assert copies[1].value() is None
