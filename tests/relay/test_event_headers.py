"""What a case event's Kafka headers say, from its outbox row: what it is, what caused
it and where that was read, the schema it is written with, and the cause's trace."""

from __future__ import annotations

import json

from relay.outbox import event_headers
from schemas.codec import shared_codec
from service.unit_of_work import SWEEPER_TOPIC
from storage.records import headers_json
from tests.schemas.samples import CASE_EVENTS

TRACE = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _payload() -> bytes:
    return shared_codec().encode(CASE_EVENTS["CaseOpened"])


def test_an_event_names_its_cause_its_position_its_schema_and_carries_its_trace():
    payload = _payload()
    cause = json.loads(headers_json((("traceparent", TRACE), ("tracestate", b"shop=1"),
                                     ("other", b"kept out"))) or "null")
    headers = dict(event_headers("ev-1", "CaseOpened", payload, "case-actions", 2, 41,
                                 "act-1", cause))
    assert headers == {
        "event_type": b"CaseOpened", "event_id": b"ev-1", "cause_event_id": b"act-1",
        "cause_topic": b"case-actions", "cause_partition": b"2", "cause_offset": b"41",
        "schema_fingerprint": payload[2:10].hex().encode(),
        "traceparent": TRACE, "tracestate": b"shop=1"}


def test_a_time_rules_event_names_no_position_and_no_trace():
    headers = dict(event_headers("ev-2", "CaseEscalated", _payload(), SWEEPER_TOPIC, -1, -1,
                                 "deadline-1", None))
    assert set(headers) == {"event_type", "event_id", "cause_event_id",
                            "schema_fingerprint"}
    assert headers["cause_event_id"] == b"deadline-1"
