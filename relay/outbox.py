"""Publish the outboxes: case events (`case_events` rows not yet published) to
`case-events`, and the dead letters the sweeper found (`dead_letter_outbox`) to their
`<topic>.dlq`.

One relay publishes at a time: it holds a PostgreSQL advisory lock, and a second relay
waits as a standby, so one key's events are never sent out of order by two relays. Case
events are sent in `seq` order with an idempotent producer; once the broker has
acknowledged a batch, one row in `case_events_published` says every event up to its
last seq is published (appends commit in seq order, so nothing below it comes later).
After a crash what is after that mark goes again, with the same event_ids.

Every case event carries headers that say what it is and what caused it, without
decoding it: `event_type`, `event_id`, `cause_event_id`, `cause_topic`,
`cause_partition`, `cause_offset` (not for a time rule's event), `schema_fingerprint`,
and the cause's W3C `traceparent` / `tracestate` when it had them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import structlog
from confluent_kafka import KafkaError, Message
from psycopg import sql

from bootstrap import kafka
from bootstrap.database import connect
from configuration import Settings
from consumers.dead_letters import DeadLetter, dlq_headers
from consumers.inbound import InboundMessage
from schemas import CASE_EVENTS_TOPIC, dlq_topic
from schemas.codec import HEADER_LENGTH
from service.unit_of_work import SWEEPER_TOPIC
from storage.planner import prefer_key_lookups
from storage.records import headers_from_json
from storage.transaction import CASE_EVENTS_CHANNEL

log = structlog.get_logger("relay")

RELAY_LOCK_ID = 0x0CA5E5  # the advisory lock only one relay holds
BATCH = 2000
#: how often the leader measures the outbox's backlog
BACKLOG_EVERY_SECONDS = 5.0
#: the consumer group a dead letter found by the sweeper names
SWEEPER_GROUP = "order-cases.sweeper"


def event_headers(event_id: str, event_type: str, payload: bytes, cause_topic: str,
                  cause_partition: int, cause_offset: int, cause_event_id: str,
                  cause_headers: Any) -> list[tuple[str, bytes]]:
    headers = [("event_type", event_type.encode()), ("event_id", event_id.encode()),
               ("cause_event_id", cause_event_id.encode())]
    if cause_topic != SWEEPER_TOPIC:
        headers += [("cause_topic", cause_topic.encode()),
                    ("cause_partition", str(cause_partition).encode()),
                    ("cause_offset", str(cause_offset).encode())]
    headers.append(("schema_fingerprint", bytes(payload[2:HEADER_LENGTH]).hex().encode()))
    headers += [(name, value) for name, value in headers_from_json(cause_headers)
                if name in ("traceparent", "tracestate") and value is not None]
    return headers


class OutboxRelay:
    def __init__(self, settings: Settings, stop: threading.Event | None = None,
                 on_published: Callable[[list[tuple[str, float]]], None] | None = None,
                 on_leading: Callable[[bool], None] | None = None,
                 on_tick: Callable[[], None] | None = None,
                 on_backlog: Callable[[int, float], None] | None = None,
                 on_database_error: Callable[[], None] | None = None) -> None:
        self.settings = settings
        self.stop = stop or threading.Event()
        self.published = 0
        #: told of every batch acknowledged: each event's type and seconds since it was
        #: appended to the outbox (metrics)
        self.on_published = on_published or (lambda _events: None)
        self.on_leading = on_leading or (lambda _leading: None)
        #: each time the loop goes round (liveness); the outbox's backlog now and then
        self.on_tick = on_tick or (lambda: None)
        self.on_backlog = on_backlog or (lambda _count, _age: None)
        self.on_database_error = on_database_error or (lambda: None)

    def run(self) -> None:
        producer = kafka.producer(self.settings, "relay")
        while not self.stop.is_set():
            try:
                with connect(self.settings, "order-cases.relay") as conn:
                    prefer_key_lookups(conn, transaction_only=False)
                    # Marking what was published need not wait for the WAL flush: a mark lost
                    # in a crash only re-sends those events, with the same event_id, which
                    # the guarantees allow. It takes a disk flush out of every cycle.
                    conn.execute("SET synchronous_commit = off")
                    self._lead(conn, producer)
            except psycopg.OperationalError as exc:
                self.on_database_error()
                log.warning("relay_database_unavailable", error=type(exc).__name__)
                self.stop.wait(1.0)
        producer.flush(30)

    def _lead(self, conn: psycopg.Connection, producer: kafka.Producer) -> None:
        while not self.stop.is_set():
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (RELAY_LOCK_ID,)).fetchone()
            if row and row[0]:
                break
            self.on_leading(False)
            self.on_tick()
            self.stop.wait(1.0)  # standby: another relay is publishing
        else:
            return
        self.on_leading(True)
        log.info("relay_leading")
        # LISTEN takes no parameters: the channel is composed as an identifier
        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CASE_EVENTS_CHANNEL)))
        backlog_due = 0.0
        while not self.stop.is_set():
            self.on_tick()
            if time.monotonic() >= backlog_due:
                backlog_due = time.monotonic() + BACKLOG_EVERY_SECONDS
                self.on_backlog(*self.backlog(conn))
            sent = self.publish_once(conn, producer) + self.dead_letters_once(conn, producer)
            if sent == 0:
                # sleep until a consumer or the sweeper commits (or a second passes)
                for _ in conn.notifies(timeout=1.0, stop_after=1):
                    pass

    def backlog(self, conn: psycopg.Connection) -> tuple[int, float]:
        """How many case events wait to be published, and how long the oldest has."""
        row = conn.execute(
            "SELECT count(*), coalesce(extract(epoch FROM clock_timestamp() - min(created_at)),"
            " 0) FROM unpublished_case_events", prepare=True).fetchone()
        return (int(row[0]), float(row[1])) if row else (0, 0.0)

    def publish_once(self, conn: psycopg.Connection, producer: kafka.Producer) -> int:
        """Send the next batch of case events after the mark; return how many were marked."""
        started = time.perf_counter()
        rows = conn.execute(
            "SELECT seq, order_id, payload, event_id, type, cause_topic, cause_partition, "
            "cause_offset, cause_event_id, cause_headers, "
            "extract(epoch FROM clock_timestamp() - created_at) "
            "FROM unpublished_case_events ORDER BY seq LIMIT %s", (BATCH,),
            prepare=True, binary=True).fetchall()
        if not rows:
            return 0
        selected = time.perf_counter()
        failed: dict[int, str] = {}
        for seq, order_id, payload, event_id, kind, *cause, _age in rows:
            producer.produce(CASE_EVENTS_TOPIC, payload, key=order_id.encode(),
                             headers=event_headers(event_id, kind, payload, *cause),
                             on_delivery=_failed_into(failed, seq))
        remaining = self._await_delivery(producer, started)
        produced = time.perf_counter()
        seqs = [row[0] for row in rows]
        if failed or remaining:
            first_failed = min(failed) if failed else seqs[0]
            seqs = [s for s in seqs if s < first_failed]
            log.warning("relay_delivery_failed", failed=len(failed), remaining=remaining)
        if seqs:
            conn.execute("INSERT INTO case_events_published (through_seq) VALUES (%s) "
                         "ON CONFLICT DO NOTHING", (seqs[-1],), prepare=True)
        self.published += len(seqs)
        waited = produced - started
        self.on_published([(row[4], float(row[-1]) + waited) for row in rows[:len(seqs)]])
        finished = time.perf_counter()
        log.info("relay_published", events=len(seqs), seconds=round(finished - started, 6),
                 select=round(selected - started, 6), produce=round(produced - selected, 6),
                 update=round(finished - produced, 6))
        return len(seqs)

    def dead_letters_once(self, conn: psycopg.Connection, producer: kafka.Producer) -> int:
        """Send the dead letters the sweeper found; return how many were marked."""
        rows = conn.execute(
            'SELECT seq, topic, "partition", "offset", "timestamp", key, value, headers, '
            "error, reason FROM dead_letter_outbox WHERE published_at IS NULL "
            "ORDER BY seq LIMIT %s", (BATCH,), prepare=True).fetchall()
        if not rows:
            return 0
        failed: dict[int, str] = {}
        for seq, topic, partition, offset, stamp, key, value, headers, error, reason in rows:
            original = InboundMessage(topic, partition, offset, key, value,
                                      headers_from_json(headers), 2, stamp)
            producer.produce(dlq_topic(topic), value, key=key,
                             headers=dlq_headers(original, SWEEPER_GROUP,
                                                 DeadLetter(error, reason)),
                             on_delivery=_failed_into(failed, seq))
            log.warning("dead_letter", topic=topic, partition=partition, offset=offset,
                        error=error)
        remaining = self._await_delivery(producer, time.perf_counter())
        seqs = [row[0] for row in rows if row[0] not in failed]
        if remaining:
            seqs = []
        if seqs:
            conn.execute("UPDATE dead_letter_outbox SET published_at = now() "
                         "WHERE seq = ANY(%b::bigint[])", (seqs,), prepare=True)
        return len(seqs)

    def _await_delivery(self, producer: kafka.Producer, started: float) -> int:
        """Wait for the broker's answer on every message in flight; return how many are
        still unanswered (only when stopping). Never give up earlier: a message still
        queued is delivered once the broker is back, so sending its row again would
        publish it twice. librdkafka itself fails it after message.timeout.ms, and a
        failed row is sent again in the next round."""
        reported = started
        while (remaining := producer.flush(1.0)) and not self.stop.is_set():
            if time.perf_counter() - reported >= 10:
                reported = time.perf_counter()
                log.warning("relay_waiting_for_broker", in_flight=remaining,
                            waited_seconds=round(reported - started))
        return remaining


def _failed_into(failed: dict[int, str], seq: int) -> Callable[[KafkaError | None, Message],
                                                                  None]:
    def delivered(err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            failed[seq] = str(err)

    return delivered
