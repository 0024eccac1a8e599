"""`workload.publish` against the real broker: every record lands, keyed, decodable."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from schemas.codec import shared_codec
from tests.integration.conftest import read_topic
from workload.generator import generate
from workload.publish import publish

pytestmark = pytest.mark.integration


def test_publish_produces_every_record_with_its_key(settings):
    items = generate(random.randrange(10**6, 10**7), 25)
    delivered: list[int] = []
    assert publish(settings, items, rate=2000,
                   on_delivered=lambda position, _msg: delivered.append(position)) == len(items)
    assert sorted(delivered) == list(range(len(items)))

    codec = shared_codec()
    expected = Counter(i.topic for i in items)
    by_id = {i.record["event_id"]: i for i in items}
    for topic, count in expected.items():
        keys = {i.key.encode() for i in items if i.topic == topic}
        found = read_topic(settings, topic, lambda m, keys=keys: m.key() in keys, decode=False)
        assert len(found) == count
        for msg in found:
            record = codec.decode(msg.value())
            assert by_id[record["event_id"]].record == record
            assert by_id[record["event_id"]].key.encode() == msg.key()
