"""Hostile input, generated: a property test against the running service (`cases run`).

Each example is a plan hypothesis draws: a few orders in a namespace of their own, the
good records of their lives on all five topics (not always all of them, so some actions
wait for an order that never comes), and hostile records among them: raw bytes,
tombstones, missing, empty, wrong and non-UTF-8 keys, records on the wrong topic,
Avro-valid records with hostile values (empty, long and NUL-holding ids, amounts out of
range, currencies and countries not in the code lists, a ':' in a carrier, dates out of
range or in the future), records that contradict their order (money in another currency,
beyond the total or what was captured), and attacks on a victim order of another
namespace (a second OrderPlaced, money it cannot take, its event_id reused). All of it
is produced at once in an order hypothesis draws (reordering). Then, once the first
batch is stored, the reuses: good records sent again byte for byte, their event_ids
reused for other content, and their bytes cut short or with a byte changed.

Afterwards every message is accounted for exactly once (stored where it was read, or
skipped as a duplicate of what was, or a dead letter on `<topic>.dlq` naming its
position, class and reason), every good record is stored and decided, every hostile one
is a dead letter (the cut and changed bytes are allowed to read as records: they are
accounted for like any other), no component exited, every consumer group reached the end
of its topic, and the victim order is as it was.

Run time: 20 examples (`max_examples`) of about 10 to 25 records each, produced in two
batches per example and waited for together: about a minute on two cores.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from configuration import Settings
from consumers import dead_letters as dlq
from schemas import INBOUND_TOPICS, dlq_topic, record_key
from schemas.codec import shared_codec
from schemas.json_form import from_json
from storage.order_rows import order_from_row
from tests.integration import clock
from tests.integration.conftest import (
    committed,
    end_offsets,
    send,
    wait_for,
    wait_for_db_events,
    wait_until_known,
)
from tests.integration.scenario import ADDRESS

pytestmark = pytest.mark.integration

EXAMPLES = 20
DEAD_CLASSES = {"schemas.codec.DecodeError", "schemas.json_form.ContractError",
                "consumers.batch.MissingKey", "consumers.batch.RecordTooLarge",
                "consumers.batch.FutureRecord", "consumers.storing.EventIdConflict",
                "domain.decision.InvalidRecord"}


# ---- records ------------------------------------------------------------------------

def _record(topic: str, **fields: Any) -> dict[str, Any]:
    return from_json(topic, {"event_id": str(uuid.uuid4()), **fields})


def placed(order_id: str, at: str = "2026-03-01T10:00:00Z") -> dict[str, Any]:
    return _record("orders", type="OrderPlaced", occurred_at=at, order_id=order_id,
                   buyer_id=f"buyer-{order_id}", seller_id=f"seller-{order_id}",
                   total={"amount_minor": 5000, "currency": "EUR"},
                   payment_method="aliberber_payments", shipping_address=ADDRESS,
                   estimated_delivery="2026-03-10")


def capture(order_id: str, amount: int, currency: str = "EUR",
            at: str = "2026-03-01T10:01:00Z") -> dict[str, Any]:
    return _record("payments", type="PaymentCaptured", occurred_at=at,
                   payment_id=str(uuid.uuid4()), order_id=order_id,
                   amount={"amount_minor": amount, "currency": currency},
                   provider="aliberber_payments")


def refund(order_id: str, amount: int, at: str = "2026-03-13T09:30:00Z") -> dict[str, Any]:
    return _record("payments", type="RefundIssued", occurred_at=at,
                   refund_id=str(uuid.uuid4()), order_id=order_id,
                   amount={"amount_minor": amount, "currency": "EUR"},
                   provider="aliberber_payments", initiated_by="seller")


def message(order_id: str) -> dict[str, Any]:
    return _record("messages", type="MessageSent", occurred_at="2026-03-11T09:00:00Z",
                   order_id=order_id, sender_id=f"buyer-{order_id}", sender_role="buyer",
                   kind="problem_report", body="Where is it?")


def open_case(order_id: str) -> dict[str, Any]:
    return _record("case-actions", type="OpenCase", occurred_at="2026-03-12T09:00:00Z",
                   order_id=order_id, actor_id=f"buyer-{order_id}", actor_role="buyer",
                   reason="non_delivery", description="It never arrived.")


def add_tracking(order_id: str) -> dict[str, Any]:
    return _record("case-actions", type="AddTracking", occurred_at="2026-03-13T09:00:00Z",
                   order_id=order_id, actor_id=f"seller-{order_id}", actor_role="seller",
                   carrier="laposte", tracking_number=f"LP-{order_id}", proof="tracking")


def report(order_id: str) -> dict[str, Any]:
    return _record("carrier-tracking", type="TrackingUpdated",
                   occurred_at="2026-03-12T18:00:00Z", carrier="laposte",
                   tracking_number=f"LP-{order_id}", status="in_transit")


def encode(record: dict[str, Any]) -> bytes:
    return shared_codec().encode(clock.move_record(record))


# ---- what is produced, and what must become of it -----------------------------------

GOOD, DEAD, ANY = "good", "dead", "any"  # ANY: cut or changed bytes, whatever they read as


@dataclass
class Item:
    topic: str
    key: bytes | None
    value: bytes | None
    expect: str
    what: str
    event_id: str | None = None  # a good record's (to find it stored)
    position: tuple[int, int] = (-1, -1)  # partition, offset
    timestamp: int = 0


def good(topic: str, record: dict[str, Any], what: str) -> Item:
    return Item(topic, record_key(topic, record).encode(), encode(record), GOOD, what,
                record["event_id"])


def dead(topic: str, key: bytes | None, value: bytes | None, what: str) -> Item:
    return Item(topic, key, value, DEAD, what)


def spoiled(topic: str, record: dict[str, Any], what: str, key: bytes | None = None,
            **change: Any) -> Item:
    """A record written as Avro with values the contract refuses."""
    changed = {**record, **change}
    value = shared_codec().encode(clock.move_record(changed))
    return dead(topic, record_key(topic, record).encode() if key is None else key, value,
                what)


#: hostile values that Avro carries and the contract refuses: (topic, make(order) -> record
#: and its changes)
CONTRACT_BREAKERS: dict[str, Callable[[str], Item]] = {
    "empty id": lambda o: spoiled("orders", placed(o), "empty id", buyer_id=" "),
    "long id": lambda o: spoiled("messages", message(o), "long id", sender_id="s" * 129),
    "NUL in text": lambda o: spoiled("messages", message(o), "NUL", body="a\x00b"),
    "negative amount": lambda o: spoiled("payments", capture(o, 1), "negative",
                                         amount={"amount_minor": -1, "currency": "EUR"}),
    "huge amount": lambda o: spoiled("payments", capture(o, 1), "huge",
                                     amount={"amount_minor": 2**62, "currency": "EUR"}),
    "currency not in ISO 4217": lambda o: spoiled(
        "payments", capture(o, 1), "currency", amount={"amount_minor": 1, "currency": "E1 "}),
    "country not in ISO 3166-1": lambda o: spoiled(
        "orders", placed(o), "country", shipping_address={**ADDRESS, "country": "F1"}),
    "':' in a carrier": lambda o: spoiled(
        "carrier-tracking", report(o), "colon", carrier="la:poste"),
    "time before 2000": lambda o: spoiled(
        "case-actions", open_case(o), "old",
        occurred_at=dt.datetime(1999, 12, 31, tzinfo=dt.UTC) - clock.SHIFT),
    "time in the future": lambda o: spoiled(
        "case-actions", open_case(o), "future",
        occurred_at=dt.datetime(2099, 1, 1, tzinfo=dt.UTC) - clock.SHIFT),
    "wrong key": lambda o: spoiled("orders", placed(o), "wrong key", key=f"{o}-x".encode()),
    "non-UTF-8 key": lambda o: spoiled("orders", placed(o), "non-UTF-8 key",
                                       key=b"\xff" + o.encode()),
    "empty key": lambda o: spoiled("messages", message(o), "empty key", key=b""),
    "wrong topic": lambda o: dead("orders", o.encode(), encode(message(o)), "wrong topic"),
    "tombstone": lambda o: dead("case-actions", o.encode(), None, "tombstone"),
    "no key": lambda o: dead("payments", None, encode(capture(o, 1)), "no key"),
}


@dataclass
class Plan:
    """An example, drawn by hypothesis; made into records with fresh ids when run."""

    orders: list[dict[str, Any]]  # which good records each order has
    breakers: list[tuple[str, int]]  # (contract breaker, order index)
    raw: list[tuple[str, bytes | None, bytes]]  # (topic, key, value): bytes not Avro
    contradictions: list[tuple[str, int]]  # (kind, order index of a placed order)
    victim_attacks: list[str]
    order: list[int] = field(default_factory=list)  # the produce order, a permutation
    resent: list[int] = field(default_factory=list)  # good records sent again as they are
    reused: list[int] = field(default_factory=list)  # good records whose event_id is reused
    cut: list[tuple[int, int]] = field(default_factory=list)  # (good record, bytes kept)
    changed: list[tuple[int, int, int]] = field(default_factory=list)  # (record, pos, xor)


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    orders = draw(st.lists(st.fixed_dictionaries({
        "placed": st.booleans(), "captured": st.integers(0, 5000), "refund": st.booleans(),
        "message": st.booleans(), "opened": st.booleans(), "tracking": st.booleans(),
        "report": st.booleans()}), min_size=1, max_size=3))
    n = len(orders)
    breakers = draw(st.lists(st.tuples(st.sampled_from(sorted(CONTRACT_BREAKERS)),
                                       st.integers(0, n - 1)), max_size=6))
    raw = draw(st.lists(st.tuples(
        st.sampled_from(list(INBOUND_TOPICS)),
        st.one_of(st.none(), st.binary(max_size=12)),
        st.binary(min_size=1, max_size=64).filter(lambda b: b[:2] != b"\xc3\x01")),
        max_size=3))
    with_terms = [i for i, o in enumerate(orders) if o["placed"]]
    contradictions = draw(st.lists(st.tuples(
        st.sampled_from(["usd capture", "capture beyond the total", "second OrderPlaced"]),
        st.sampled_from(with_terms)), max_size=3)) if with_terms else []
    victim = draw(st.lists(st.sampled_from(
        ["second OrderPlaced", "usd capture", "capture beyond the total",
         "refund beyond the captured", "event_id reused"]), max_size=2, unique=True))
    plan = Plan(orders, breakers, raw, contradictions, victim)
    goods = sum(1 + o["refund"] + sum(bool(o[k]) for k in (
        "captured", "message", "opened", "tracking", "report")) - (not o["placed"])
        for o in orders)
    first = goods + len(breakers) + len(raw) + len(contradictions) + len(victim)
    plan.order = draw(st.permutations(range(first)))
    if goods:
        index = st.integers(0, goods - 1)
        plan.resent = draw(st.lists(index, max_size=2, unique=True))
        plan.reused = draw(st.lists(index, max_size=2, unique=True))
        plan.cut = draw(st.lists(st.tuples(index, st.integers(1, 200)), max_size=2))
        plan.changed = draw(st.lists(st.tuples(index, st.integers(0, 400),
                                               st.integers(1, 255)), max_size=3))
    return plan


# ---- the victim, and where dead letters land ----------------------------------------

@dataclass
class Victim:
    order_id: str
    placed: dict[str, Any]
    before: tuple[Any, ...] = ()


def _victim_state(db: psycopg.Connection, order_id: str) -> tuple[Any, ...]:
    row = db.execute("SELECT terms, state FROM orders WHERE order_id = %s",
                     (order_id,)).fetchone()
    order = order_from_row(order_id, *row)
    records = db.execute("SELECT event_id, record_type FROM order_records WHERE order_id = %s "
                         "ORDER BY event_id", (order_id,)).fetchall()
    events = db.execute("SELECT event_id, type FROM case_events WHERE order_id = %s "
                        "ORDER BY seq", (order_id,)).fetchall()
    return order.terms, order.payments, order.refunds, order.case, records, events


class Letters:
    """Every dead letter on the inbound topics' DLQs from now on, by original position."""

    def __init__(self, settings: Settings) -> None:
        self.consumer = Consumer(settings.kafka(**{
            "group.id": f"hostile-{uuid.uuid4()}", "enable.auto.commit": False}))
        ends = {topic: end_offsets(settings, dlq_topic(topic)) for topic in INBOUND_TOPICS}
        self.consumer.assign([TopicPartition(dlq_topic(t), p, o)
                              for t, marks in ends.items() for p, o in marks.items()])
        self.by_position: dict[tuple[str, int, int], list[dict[str, str | int]]] = {}

    def drain(self) -> None:
        while True:
            batch = self.consumer.consume(500, 0.3)
            if not batch:
                return
            for msg in batch:
                if msg.error():
                    continue
                headers = dlq.read_headers(msg.headers())
                where = (headers.get(dlq.ORIGINAL_TOPIC), headers.get(dlq.ORIGINAL_PARTITION),
                         headers.get(dlq.ORIGINAL_OFFSET))
                self.by_position.setdefault(where, []).append(headers)  # type: ignore[arg-type]


@dataclass
class World:
    settings: Settings
    db: psycopg.Connection
    log: Path
    victim: Victim
    letters: Letters


@pytest.fixture(scope="module")
def world(settings: Settings, service: Path) -> World:
    db = psycopg.connect(settings.database_url, autocommit=True)
    order_id = f"victim-{uuid.uuid4().hex[:8]}"
    victim = Victim(order_id, placed(order_id))
    send(settings, ("orders", victim.placed), ("payments", capture(order_id, 3000)),
         ("case-actions", open_case(order_id)))
    wait_until_known(db, order_id)
    wait_for_db_events(db, order_id, 1)
    wait_for(lambda: len(_victim_state(db, order_id)[1]) == 1, what="the victim's capture")
    victim.before = _victim_state(db, order_id)
    yield World(settings, db, service, victim, Letters(settings))
    db.close()


# ---- running one example ------------------------------------------------------------

def _made(plan: Plan, ns: str, victim: Victim) -> tuple[list[Item], list[dict[str, Any]]]:
    """The first batch (good and hostile records, in the drawn order) and the good
    records' own fields, for the second batch."""
    goods: list[tuple[Item, dict[str, Any]]] = []
    ids = [f"{ns}-o{i}" for i in range(len(plan.orders))]
    for o, spec in zip(ids, plan.orders, strict=True):
        records: list[tuple[str, dict[str, Any]]] = []
        if spec["placed"]:
            records.append(("orders", placed(o)))
        if spec["captured"]:
            records.append(("payments", capture(o, spec["captured"])))
        if spec["refund"]:
            records.append(("payments", refund(o, min(spec["captured"], 5000) or 1)))
        for name, make, topic in (("message", message, "messages"),
                                  ("opened", open_case, "case-actions"),
                                  ("tracking", add_tracking, "case-actions"),
                                  ("report", report, "carrier-tracking")):
            if spec[name]:
                records.append((topic, make(o)))
        goods += [(good(topic, r, f"good {r['type']}"), r) for topic, r in records]
    hostile = [CONTRACT_BREAKERS[name](ids[i]) for name, i in plan.breakers]
    hostile += [dead(topic, key, value, "raw bytes") for topic, key, value in plan.raw]
    for kind, i in plan.contradictions:
        o = ids[i]
        hostile.append({
            "usd capture": lambda o=o: good("payments", capture(
                o, 10, "USD", at="2026-03-01T10:03:00Z"), "usd"),
            "capture beyond the total": lambda o=o: good("payments", capture(
                o, 5001, at="2026-03-01T10:02:00Z"), "beyond"),
            "second OrderPlaced": lambda o=o: good("orders", placed(
                o, at="2026-03-02T10:00:00Z"), "second placed"),
        }[kind]())
    v = victim.order_id
    for kind in plan.victim_attacks:
        hostile.append({
            "second OrderPlaced": lambda: good("orders", placed(v, "2026-03-02T10:00:00Z"),
                                               "victim second placed"),
            "usd capture": lambda: good("payments", capture(v, 10, "USD"), "victim usd"),
            "capture beyond the total": lambda: good("payments", capture(v, 2001),
                                                     "victim beyond"),
            "refund beyond the captured": lambda: good("payments", refund(v, 3001),
                                                       "victim refund beyond"),
            "event_id reused": lambda: good("messages", {
                **message(f"{ns}-o0"), "event_id": victim.placed["event_id"]},
                "victim event_id reused"),
        }[kind]())
    for item in hostile:
        item.expect, item.event_id = DEAD, None
    first = [g for g, _ in goods] + hostile
    return [first[i] for i in plan.order], [r for _, r in goods]


def _second(plan: Plan, ns: str, first: list[Item], records: list[dict[str, Any]]
            ) -> list[Item]:
    goods = [item for item in first if item.expect == GOOD]
    by_id = {r["event_id"]: r for r in records}
    items: list[Item] = []
    for i in plan.resent:  # the same bytes again: a duplicate
        g = goods[i]
        items.append(Item(g.topic, g.key, g.value, "duplicate", "resent", g.event_id))
    for i in plan.reused:  # its event_id for other content: a conflict
        g = goods[i]
        other = {**message(by_id[g.event_id].get("order_id") or f"{ns}-reuse"),
                 "event_id": g.event_id, "body": "other content"}
        items.append(dead("messages", record_key("messages", other).encode(), encode(other),
                          "event_id reused"))
    for i, keep in plan.cut:
        g = goods[i]
        assert g.value is not None
        items.append(Item(g.topic, g.key, g.value[:min(keep, len(g.value) - 1)], ANY, "cut"))
    for i, position, xor in plan.changed:
        g = goods[i]
        assert g.value is not None
        data = bytearray(g.value)
        data[position % len(data)] ^= xor
        items.append(Item(g.topic, g.key, bytes(data), ANY, "changed"))
    return items


def _produce(settings: Settings, items: list[Item]) -> None:
    producer = Producer(settings.kafka(**{"enable.idempotence": True}))
    errors: list[KafkaError] = []
    for item in items:
        def delivered(err: KafkaError | None, msg: Message, item: Item = item) -> None:
            if err is not None:
                errors.append(err)
            else:
                item.position = (msg.partition(), msg.offset())
                item.timestamp = msg.timestamp()[1]
        producer.produce(item.topic, key=item.key, value=item.value, on_delivery=delivered)
    assert producer.flush(60) == 0 and not errors, errors


def _outcome(world: World, item: Item) -> str | None:
    """stored, duplicate, dead, or None while it is not known yet."""
    topic, (partition, offset) = item.topic, item.position
    letters = world.letters.by_position.get((topic, partition, offset), [])
    # stored after it was produced: a redriven letter that could not say where its
    # original was is stored at its own DLQ partition and offset, which an earlier test's
    # redrive may have made to coincide with this record's position
    row = world.db.execute(
        'SELECT event_id FROM inbox WHERE topic = %s AND "partition" = %s AND "offset" = %s '
        'AND "timestamp" = %s',
        (topic, partition, offset, item.timestamp)).fetchone()
    if letters and row is None:
        return "dead"
    if letters:
        return None  # a sweeper's letter whose inbox row is still being taken out
    if world.db.execute(
            'SELECT 1 FROM dead_letter_outbox WHERE topic = %s AND "partition" = %s AND '
            '"offset" = %s', (topic, partition, offset)).fetchone():
        return None  # refused by the sweeper, not yet sent by the relay
    if row is not None:
        found = world.db.execute(
            "SELECT NOT EXISTS (SELECT 1 FROM undecided_records u WHERE u.order_id = "
            "r.order_id AND u.occurred_at = r.occurred_at AND u.event_id = r.event_id), "
            "occurred_at > (SELECT low FROM watermark) FROM order_records r "
            "WHERE event_id = %s UNION ALL SELECT NOT EXISTS (SELECT 1 FROM undecided_reports "
            "u WHERE u.event_id = r.event_id), occurred_at > (SELECT low FROM watermark) "
            "FROM parcel_reports r WHERE event_id = %s", (row[0], row[0])).fetchone()
        if found is None:
            return None
        decided, ahead = found
        if decided:
            return "stored"
        # changed bytes may have moved a record ahead of the watermark: stored, and
        # decided only once the watermark passes it
        return "stored ahead" if ahead and item.expect == ANY else None
    read_past = item.expect in ("duplicate", ANY) and committed(
        world.settings, topic).get(partition, 0) > offset
    # read and skipped: its consumer group is past it, and no letter names it
    return "duplicate" if read_past else None


def _settle(world: World, items: list[Item]) -> dict[int, str]:
    outcomes: dict[int, str] = {}

    def known() -> bool:
        world.letters.drain()
        for n, item in enumerate(items):
            if n not in outcomes:
                found = _outcome(world, item)
                if found is not None:
                    outcomes[n] = found
        return len(outcomes) == len(items)

    try:
        wait_for(known, timeout=90, what="an outcome for every record")
    except AssertionError:
        missing = [(items[n].what, items[n].topic, items[n].position, items[n].value)
                   for n in range(len(items)) if n not in outcomes]
        raise AssertionError(f"no outcome for {missing}") from None
    return outcomes


def _check(world: World, items: list[Item], outcomes: dict[int, str]) -> None:
    for n, item in enumerate(items):
        outcome = outcomes[n]
        where = (item.topic, *item.position)
        letters = world.letters.by_position.get(where, [])
        if item.expect == GOOD:
            assert outcome == "stored", (item.what, where, letters)
        elif item.expect == DEAD:
            assert outcome == "dead", (item.what, where, outcome)
        elif item.expect == "duplicate":
            assert outcome == "duplicate", (item.what, where, outcome)
        if outcome == "dead":
            assert len(letters) == 1, (item.what, letters)
            (letter,) = letters
            assert letter[dlq.EXCEPTION_FQCN] in DEAD_CLASSES, (item.what, letter)
            assert str(letter.get(dlq.EXCEPTION_MESSAGE, "")).strip(), (item.what, letter)
        else:
            assert not letters, (item.what, letters)


@settings(max_examples=EXAMPLES, deadline=None, print_blob=True,
          # each example takes seconds: a failure is reported as drawn, not shrunk
          phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(plan=plans())
def test_hostile_input_never_stops_a_consumer_nor_changes_what_it_must_not(world, plan):
    ns = f"hx-{uuid.uuid4().hex[:10]}"
    first, records = _made(plan, ns, world.victim)
    _produce(world.settings, first)
    outcomes = _settle(world, first)
    second = _second(plan, ns, first, records)
    _produce(world.settings, second)
    outcomes2 = _settle(world, second)

    _check(world, first, outcomes)
    _check(world, second, outcomes2)
    log = world.log.read_text()
    assert "component_exited" not in log
    assert '"undecodable_record"' not in log  # no failure a check did not foresee
    assert _victim_state(world.db, world.victim.order_id) == world.victim.before


def test_after_the_hostile_input_every_consumer_reached_the_end_of_its_topic(
        world, settings):
    """Runs after the property (in file order): nothing is stuck behind a bad record."""
    for topic in INBOUND_TOPICS:
        wait_for(lambda t=topic: committed(settings, t) == end_offsets(settings, t),
                 timeout=60, what=f"{topic}'s group to reach the end of the topic")
    assert "component_exited" not in world.log.read_text()
