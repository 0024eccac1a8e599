"""Any Avro client can read case-events: the Java example (examples/java-case-events,
Apache Kafka's client and Apache Avro's single-object decoding, nothing of this service)
reads a topic holding one record of every case-event type, written by the Python codec,
and finds the same field values the Python codec reads back."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import uuid
from typing import Any

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from fastavro import schemaless_reader, schemaless_writer

from configuration import Settings
from schemas import CASE_EVENT_TYPES
from schemas.codec import AVRO_DIR, MARKER, _load, shared_codec
from tests.contract.java import REPO, run_java
from tests.schemas.samples import CASE_EVENTS

pytestmark = pytest.mark.integration

READER = "aliberber.cases.example.CaseEventsReader"


def _encode(record: dict[str, Any]) -> bytes:
    """The codec's bytes; for a type no topic carries yet (DecisionSuperseded until it is
    wired in), the same bytes the codec will write for it."""
    codec = shared_codec()
    if record["type"] in codec.current:
        return codec.encode(record)
    schema = _load(AVRO_DIR / f"aliberber.cases.{record['type']}.avsc")
    body = io.BytesIO()
    schemaless_writer(body, schema.compiled, record)
    return MARKER + schema.fingerprint + body.getvalue()


def _decode(value: bytes, type_name: str) -> dict[str, Any]:
    codec = shared_codec()
    if type_name in codec.current:
        return codec.decode(value)
    schema = _load(AVRO_DIR / f"aliberber.cases.{type_name}.avsc")
    return schemaless_reader(io.BytesIO(value[10:]), schema.compiled, None)


def _env(settings: Settings) -> dict[str, str]:
    return {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers}


def _plain(value: Any) -> Any:
    """A decoded value as the Java reader prints it (timestamps to the millisecond)."""
    if isinstance(value, dt.datetime):
        utc = value.astimezone(dt.timezone.utc)
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def test_the_java_reader_decodes_every_case_event_type(settings: Settings):
    types = sorted(set(CASE_EVENT_TYPES) | set(CASE_EVENTS))
    assert set(CASE_EVENT_TYPES) <= set(CASE_EVENTS), "a case-event type without a sample"
    topic = f"case-events-interop-{uuid.uuid4().hex[:8]}"
    admin = AdminClient(settings.kafka())
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])[topic] \
        .result(30)

    sent: dict[str, tuple[str, bytes]] = {}
    producer = Producer(settings.kafka(**{"enable.idempotence": True}))
    for i, name in enumerate(types):
        record = {**CASE_EVENTS[name], "order_id": f"ord-interop-{i:02d}"}
        value = _encode(record)
        sent[name] = (record["order_id"], value)
        producer.produce(topic, key=record["order_id"].encode(), value=value,
                         headers=[("event_type", name.encode()),
                                  ("event_id", record["event_id"].encode())])
    assert producer.flush(30) == 0

    read = run_java("examples/java-case-events", READER, topic, "--schemas", str(AVRO_DIR),
                    env=_env(settings), timeout=120)
    assert read.returncode == 0, read.stderr[-3000:]
    lines = [json.loads(line) for line in read.stdout.splitlines()]
    by_type = {line["event"]["type"]: line for line in lines}
    assert len(lines) == len(types) and sorted(by_type) == types
    assert len({line["partition"] for line in lines}) > 1  # it read every partition
    for name in types:
        key, value = sent[name]
        line = by_type[name]
        assert line["key"] == key
        assert line["headers"] == {"event_type": name,
                                   "event_id": CASE_EVENTS[name]["event_id"]}
        assert line["event"] == _plain(_decode(value, name)), name


def test_the_java_reader_reports_what_it_cannot_decode(settings: Settings):
    topic = f"case-events-foreign-{uuid.uuid4().hex[:8]}"
    admin = AdminClient(settings.kafka())
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic] \
        .result(30)
    producer = Producer(settings.kafka())
    inbound = shared_codec().encode(CASE_EVENTS["CaseClosed"])  # a case event, then
    producer.produce(topic, key=b"o", value=b"\xc3\x01" + b"\x00" * 8 + b"x")  # unknown
    producer.produce(topic, key=b"o", value=inbound)
    assert producer.flush(30) == 0
    read = run_java("examples/java-case-events", READER, topic, "--schemas",
                    str(REPO / "schemas" / "avro"),
                    env=_env(settings), timeout=120)
    assert read.returncode == 1
    assert "@0 not decoded" in read.stderr and "MissingSchemaException" in read.stderr
    assert [json.loads(x)["event"]["type"] for x in read.stdout.splitlines()] == ["CaseClosed"]
