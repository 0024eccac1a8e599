"""What the messages consumer keeps of a message: the record without its body."""

from __future__ import annotations

import io
from typing import Any

import pytest
from fastavro import schemaless_writer
from fastavro.schema import parse_schema

from consumers.messages import without_body
from schemas.codec import avro_string, shared_codec


def message(body: str) -> dict[str, Any]:
    return {"event_id": "e-1", "type": "MessageSent", "occurred_at": "2026-03-01T10:00:00Z",
            "order_id": "o-1", "sender_id": "buyer-1", "sender_role": "buyer",
            "kind": "message", "body": body}


BODIES = ["", "x", "Where is my parcel?", "é" * 40, "ü" * 4096 + "z", "\U0001f4e6 " * 3000]


@pytest.mark.parametrize("length", [0, 1, 63, 64, 127, 8191, 8192, 1 << 20])
def test_an_avro_string_is_written_as_fastavro_writes_it(length: int) -> None:
    out = io.BytesIO()
    schemaless_writer(out, parse_schema("string"), "a" * length)
    assert avro_string("a" * length) == out.getvalue()


@pytest.mark.parametrize("body", BODIES)
def test_the_kept_value_is_the_record_encoded_again_with_an_empty_body(body: str) -> None:
    from schemas.json_form import from_json

    codec = shared_codec()
    record = codec.decode(codec.encode(from_json("messages", message(body))))
    kept = without_body(record, codec.encode(record))
    assert kept == codec.encode({**record, "body": ""})
    assert codec.decode(kept) == {**record, "body": ""}


def test_without_the_body_as_the_schemas_last_field_the_record_is_encoded_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A schema version that moved the body, or a value another version wrote."""
    from consumers import messages
    from schemas.json_form import from_json

    codec = shared_codec()
    record = codec.decode(codec.encode(from_json("messages", message("hello"))))
    monkeypatch.setattr(messages, "_current_ends_with_body", lambda: None)
    encoded: list[dict[str, Any]] = []
    real_encode = codec.encode
    monkeypatch.setattr(codec, "encode", lambda r: encoded.append(r) or real_encode(r))
    assert without_body(record, real_encode(record)) == real_encode({**record, "body": ""})
    assert encoded == [{**record, "body": ""}]


def test_a_body_length_not_written_in_its_shortest_form_is_encoded_again() -> None:
    from schemas.json_form import from_json

    codec = shared_codec()
    record = codec.decode(codec.encode(from_json("messages", message("hi"))))
    value = codec.encode(record)
    # the body's length 2 is 4 in zigzag form, written 04; 84 00 reads as 4 too
    longer = value[:-3] + b"\x84\x00" + b"hi"
    assert codec.decode(longer) == record
    assert without_body(record, longer) == codec.encode({**record, "body": ""})


def test_a_value_in_the_current_schema_is_cut_not_encoded_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from schemas.json_form import from_json

    codec = shared_codec()
    record = codec.decode(codec.encode(from_json("messages", message("Where is it?"))))
    value, expected = codec.encode(record), codec.encode({**record, "body": ""})

    def refuse(_record: dict[str, Any]) -> bytes:
        raise AssertionError("encoded again")

    monkeypatch.setattr(codec, "encode", refuse)
    assert without_body(record, value) == expected
