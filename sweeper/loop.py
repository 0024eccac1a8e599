"""The sweeper's loop: lead (one sweeper at a time holds an advisory lock), then, every
CASES_SWEEP_INTERVAL_SECONDS, measure the low watermark and decide what it has passed;
every CASES_INBOX_RETENTION_INTERVAL_SECONDS, prune the inbox."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg
import structlog
from confluent_kafka import Consumer, KafkaException

from bootstrap import kafka
from bootstrap.database import connect
from configuration import Settings
from domain.watermark import PartitionProgress, Watermark
from service.decide import PassReport
from sweeper import watermark
from sweeper.decisions import decide_pass
from sweeper.retention import inbox_retention_pass

log = structlog.get_logger("sweeper")

SWEEPER_LOCK_ID = 0x5EE9E2  # the advisory lock only one sweeper holds
#: a retention pass that Kafka or PostgreSQL could not answer is tried again this soon
RETENTION_RETRY_SECONDS = 30.0


@dataclass
class Sweeper:
    settings: Settings
    stop: threading.Event = field(default_factory=threading.Event)
    #: told of every watermark measured and every pass (metrics, health)
    on_watermark: Callable[[Watermark, list[PartitionProgress], dt.datetime | None], None] = (
        lambda *_: None)
    on_pass: Callable[[PassReport, float], None] = lambda *_: None
    on_leading: Callable[[bool], None] = lambda _leading: None
    on_database_error: Callable[[], None] = lambda: None
    #: called each time the loop goes round, leading or standing by (liveness)
    on_tick: Callable[[], None] = lambda: None

    def run(self) -> None:
        reader = kafka.private_consumer(self.settings)
        try:
            while not self.stop.is_set():
                try:
                    with connect(self.settings, "order-cases.sweeper") as conn:
                        self._lead(conn, reader)
                except psycopg.OperationalError as exc:
                    self.on_leading(False)
                    self.on_database_error()
                    log.warning("sweeper_database_unavailable", error=type(exc).__name__,
                                reason=str(exc).strip().splitlines()[0] if str(exc) else "")
                    self.stop.wait(1.0)
        finally:
            reader.close()

    def _lead(self, conn: psycopg.Connection, reader: Consumer) -> None:
        while not self.stop.is_set():
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (SWEEPER_LOCK_ID,)).fetchone()
            if row and row[0]:
                break
            self.on_leading(False)
            self.on_tick()
            self.stop.wait(1.0)  # standby: another sweeper leads
        else:
            return
        self.on_leading(True)
        log.info("sweeper_leading")
        retention_due = time.monotonic()
        while not self.stop.is_set():
            self.on_tick()
            self.sweep_once(conn, reader)
            if not self.stop.is_set() and time.monotonic() >= retention_due:
                retention_due = time.monotonic() + self._retention(conn)
            self.stop.wait(self.settings.sweep_interval)

    def sweep_once(self, conn: psycopg.Connection, reader: Consumer) -> PassReport | None:
        measured = watermark.measure(conn, reader, self.settings.allowed_lateness)
        if measured is None:
            log.warning("watermark_not_moved", reason="the broker did not say where the "
                        "inbound partitions end")
            return None
        mark, partitions = measured
        low = watermark.advance(conn, mark)
        self.on_watermark(mark, partitions, low)
        if low is None:
            return None
        started = time.perf_counter()
        report = decide_pass(conn, low, self.settings.policy)
        self.on_pass(report, time.perf_counter() - started)
        return report

    def _retention(self, conn: psycopg.Connection) -> float:
        """One retention pass; the seconds until the next (sooner after a failure)."""
        try:
            inbox_retention_pass(self.settings, conn, dt.datetime.now(dt.UTC))
        except (psycopg.OperationalError, KafkaException) as exc:
            log.warning("inbox_retention_skipped", error=type(exc).__name__)
            return RETENTION_RETRY_SECONDS
        except Exception:  # a fault of its own must not stop the decisions
            log.exception("inbox_retention_failed")
        return self.settings.inbox_retention_interval
