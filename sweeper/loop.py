"""The sweeper's loop: lead (one sweeper at a time holds an advisory lock), then look
every CASES_SWEEP_INTERVAL_SECONDS whether something has come due and, when it has,
measure the low watermark and decide what it has passed."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg
import structlog

from bootstrap import kafka
from bootstrap.database import connect
from configuration import Settings
from domain.watermark import PartitionProgress, Watermark
from service.decide import PassReport
from sweeper import watermark
from sweeper.decisions import decide_pass

log = structlog.get_logger("sweeper")

SWEEPER_LOCK_ID = 0x5EE9E2  # the advisory lock only one sweeper holds
#: the watermark is measured at least this often, something to decide or not (for
#: cases status and the metrics)
MEASURE_AT_LEAST_EVERY = 1.0
#: the earliest moment something waits for: a record not decided yet, a time rule
_NEXT_DUE = ("SELECT least((SELECT min(occurred_at) FROM undecided_records),"
             " (SELECT min(occurred_at) FROM undecided_reports),"
             " (SELECT min(due_at) FROM orders WHERE due_at IS NOT NULL))")


@dataclass
class Sweeper:
    settings: Settings
    stop: threading.Event = field(default_factory=threading.Event)
    #: told of every watermark measured and every pass (metrics, health)
    on_watermark: Callable[[Watermark, list[PartitionProgress], dt.datetime | None], None] = (
        lambda *_: None)
    on_pass: Callable[[PassReport, float], None] = lambda *_: None
    #: told from a live session: True when it leads, False while another sweeper does
    on_leading: Callable[[bool], None] = lambda _leading: None
    #: the session is gone or cannot be opened (and the lead with it)
    on_database_error: Callable[[], None] = lambda: None
    #: called each time the loop goes round, leading or standing by (liveness)
    on_tick: Callable[[], None] = lambda: None

    def run(self) -> None:
        ends = watermark.LogEnds(
            kafka.admin(self.settings),
            group_reader=lambda group: kafka.private_consumer(self.settings, group))
        try:
            while not self.stop.is_set():
                try:
                    with connect(self.settings, "order-cases.sweeper") as conn:
                        self._lead(conn, ends)
                except psycopg.OperationalError as exc:
                    # not `on_leading(False)`: that says the database answered (another
                    # sweeper leads), and readiness would count the outage as over
                    self.on_database_error()
                    log.warning("sweeper_database_unavailable", error=type(exc).__name__,
                                reason=str(exc).strip().splitlines()[0] if str(exc) else "")
                    self.stop.wait(1.0)
        finally:
            ends.close()

    def _lead(self, conn: psycopg.Connection, ends: watermark.LogEnds) -> None:
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
        measured_at = 0.0
        while not self.stop.is_set():
            self.on_tick()
            looked = time.monotonic()
            due = self._next(conn)
            if self._is_due(due) or looked - measured_at >= MEASURE_AT_LEAST_EVERY:
                self.sweep_once(conn, ends)
                measured_at = time.monotonic()
            # A look every sweep interval, and a pass only then. A pass costs a watermark
            # measure and some twenty statements whatever it decides, and under a steady
            # stream something is due at every moment: back to back, each pass would
            # decide a handful (at 1,000 records/s: about 40 passes a second, 0.4 of a
            # core). A look is one indexed query: records stored since the last one are
            # found by the next, without consumers notifying (storage.transaction).
            self.stop.wait(max(0.0, looked + self.settings.sweep_interval - time.monotonic()))

    def _next(self, conn: psycopg.Connection) -> dt.datetime | None:
        """The earliest moment something waits to be decided at: a record not decided
        yet, a time rule."""
        row = conn.execute(_NEXT_DUE, prepare=True).fetchone()
        return row[0] if row else None

    def _is_due(self, due: dt.datetime | None) -> bool:
        """Whether the watermark may have passed something to decide by now."""
        return due is not None and (due + self.settings.allowed_lateness
                                    <= dt.datetime.now(dt.UTC))

    def sweep_once(self, conn: psycopg.Connection, ends: watermark.LogEnds
                   ) -> PassReport | None:
        measured = watermark.measure(conn, ends, self.settings.allowed_lateness)
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
