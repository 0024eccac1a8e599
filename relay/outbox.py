"""Publish the outbox (`case_events` rows not yet published) to the `case-events` topic.

One relay publishes at a time: it holds a PostgreSQL advisory lock, and a second relay
waits as a standby, so one key's events are never sent out of order by two relays. Rows
are sent in `seq` order with an idempotent producer; a row is marked published only
after the broker acknowledged it and every row before it. After a crash the unmarked
rows go again, with the same event_id.
"""

from __future__ import annotations

import threading
import time

import psycopg
import structlog
from confluent_kafka import KafkaError, Message, Producer
from psycopg import sql

from configuration import Settings
from schemas import CASE_EVENTS_TOPIC
from storage.planner import prefer_key_lookups
from storage.unit_of_work import CASE_EVENTS_CHANNEL

log = structlog.get_logger("relay")

RELAY_LOCK_ID = 0x0CA5E5  # the advisory lock only one relay holds
BATCH = 2000


class OutboxRelay:
    def __init__(self, settings: Settings, stop: threading.Event | None = None) -> None:
        self.settings = settings
        self.stop = stop or threading.Event()
        self.published = 0

    def _producer(self) -> Producer:
        return Producer(self.settings.kafka(**{
            "enable.idempotence": True, "acks": "all", "linger.ms": 2,
            "compression.type": "lz4"}))

    def run(self) -> None:
        producer = self._producer()
        while not self.stop.is_set():
            try:
                with psycopg.connect(self.settings.database_url, autocommit=True,
                                     application_name="order-cases.relay") as conn:
                    prefer_key_lookups(conn, transaction_only=False)
                    # Marking rows published need not wait for the WAL flush: a mark lost
                    # in a crash only re-sends those events, with the same event_id, which
                    # the guarantees allow. It takes a disk flush out of every cycle.
                    conn.execute("SET synchronous_commit = off")
                    self._lead(conn, producer)
            except psycopg.OperationalError as exc:
                log.warning("relay_database_unavailable", error=type(exc).__name__)
                self.stop.wait(1.0)
        producer.flush(30)

    def _lead(self, conn: psycopg.Connection, producer: Producer) -> None:
        while not self.stop.is_set():
            if conn.execute("SELECT pg_try_advisory_lock(%s)", (RELAY_LOCK_ID,)).fetchone()[0]:
                break
            self.stop.wait(1.0)  # standby: another relay is publishing
        else:
            return
        log.info("relay_leading")
        # LISTEN takes no parameters: the channel is composed as an identifier
        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CASE_EVENTS_CHANNEL)))
        while not self.stop.is_set():
            if self.publish_once(conn, producer) == 0:
                # sleep until a consumer commits case events (or a second passes)
                for _ in conn.notifies(timeout=1.0, stop_after=1):
                    pass

    def publish_once(self, conn: psycopg.Connection, producer: Producer) -> int:
        """Send one batch of unpublished rows; return how many were marked published."""
        started = time.perf_counter()
        rows = conn.execute(
            "SELECT seq, order_id, payload FROM case_events WHERE published_at IS NULL "
            "ORDER BY seq LIMIT %s", (BATCH,), prepare=True, binary=True).fetchall()
        if not rows:
            return 0
        selected = time.perf_counter()
        failed: dict[int, str] = {}

        for seq, order_id, payload in rows:
            def delivered(err: KafkaError | None, _msg: Message, seq: int = seq) -> None:
                if err is not None:
                    failed[seq] = str(err)

            while True:
                try:
                    producer.produce(CASE_EVENTS_TOPIC, key=order_id.encode(), value=payload,
                                     on_delivery=delivered)
                    break
                except BufferError:  # the producer's queue is full: let it drain
                    producer.poll(0.1)
        remaining = self._await_delivery(producer, started)
        produced = time.perf_counter()
        seqs = [seq for seq, _, _ in rows]
        if failed or remaining:
            first_failed = min(failed) if failed else seqs[0]
            seqs = [s for s in seqs if s < first_failed]
            log.warning("relay_delivery_failed", failed=len(failed), remaining=remaining)
        if seqs:
            conn.execute(
                "UPDATE case_events SET published_at = now() WHERE seq = ANY(%b::bigint[])",
                (seqs,), prepare=True)
        self.published += len(seqs)
        finished = time.perf_counter()
        log.info("relay_published", events=len(seqs), seconds=round(finished - started, 6),
                 select=round(selected - started, 6), produce=round(produced - selected, 6),
                 update=round(finished - produced, 6))
        return len(seqs)

    def _await_delivery(self, producer: Producer, started: float) -> int:
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
