"""The codec against a second implementation: vectors.json holds each message type's
fingerprint and the single-object bytes of a sample record as Apache Avro's Java library
computes them (regenerate with `make contract-vectors`). The Python codec must produce the
same bytes and read them back to the same record."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from fastavro import json_reader, schemaless_reader, schemaless_writer

from schemas import TOPICS
from schemas.codec import AVRO_DIR, MARKER, RecordSchema, _load, shared_codec
from schemas.json_form import from_json, to_json
from tests.schemas.samples import ALL

VECTORS: dict[str, dict[str, Any]] = json.loads(
    (Path(__file__).parent / "vectors.json").read_text())["vectors"]


def _schema(full_name: str) -> RecordSchema:
    codec = shared_codec()
    name = full_name.rsplit(".", 1)[-1]
    return codec.current[name] if name in codec.current else _load(AVRO_DIR / f"{full_name}.avsc")


def _record(vector: dict[str, Any], schema: RecordSchema) -> dict[str, Any]:
    return next(iter(json_reader(io.StringIO(json.dumps(vector["record"])), schema.compiled)))


def test_every_record_type_has_a_vector():
    types = {t for types in TOPICS.values() for t in types} | set(ALL)
    assert {f"aliberber.cases.{t}" for t in types} <= set(VECTORS)


@pytest.mark.parametrize("name", sorted(VECTORS), ids=lambda n: n.rsplit(".", 1)[-1])
def test_fingerprint_and_bytes_equal_javas(name: str):
    vector = VECTORS[name]
    schema = _schema(name)
    java_bytes = bytes.fromhex(vector["single_object"])
    assert schema.fingerprint.hex() == vector["fingerprint"]
    record = _record(vector, schema)
    assert record == ALL[schema.type_name], "vectors.json is stale: make contract-vectors"
    codec = shared_codec()
    if schema.type_name in codec.current:
        assert codec.encode(record) == java_bytes
        assert codec.decode(java_bytes) == record
    else:  # a type no topic carries yet: what the codec will do once it is in TOPICS
        body = io.BytesIO()
        schemaless_writer(body, schema.compiled, record)
        assert MARKER + schema.fingerprint + body.getvalue() == java_bytes
        assert java_bytes[:10] == MARKER + schema.fingerprint
        assert schemaless_reader(io.BytesIO(java_bytes[10:]), schema.compiled, None) == record


@pytest.mark.parametrize(("topic", "name"), [(topic, name) for topic, names in TOPICS.items()
                                             for name in names if topic != "case-events"])
def test_inbound_samples_keep_the_record_contract(topic: str, name: str):
    assert from_json(topic, to_json(ALL[name])) == ALL[name]
