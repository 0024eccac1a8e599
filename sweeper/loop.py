"""The sweeper's loop: lead (one sweeper at a time holds an advisory lock), then look
every CASES_SWEEP_INTERVAL_SECONDS whether something has come due and, when it has,
measure the low watermark and decide what it has passed; while a backlog is read, pass
at most every CASES_CATCH_UP_PASS_SECONDS (sweeper.catch_up)."""

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
from domain.watermark import PartitionProgress, Watermark, held_back, stored_more, unread
from service.decide import PassReport
from storage.progress import read_progress
from sweeper import watermark
from sweeper.catch_up import CatchUp
from sweeper.decisions import decide_pass

log = structlog.get_logger("sweeper")

SWEEPER_LOCK_ID = 0x5EE9E2  # the advisory lock only one sweeper holds
#: the watermark is measured at least this often, something to decide or not (for
#: cases status and the metrics)
MEASURE_AT_LEAST_EVERY = 1.0
#: what a look of the leading sweeper comes to (a metric counts them)
MEASURED, NOTHING_DUE, HELD_BACK, CATCHING_UP = (
    "measured", "nothing_due", "held_back", "catching_up")
LOOK_OUTCOMES = (MEASURED, NOTHING_DUE, HELD_BACK, CATCHING_UP)
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
    #: told what each look of the leading sweeper came to (LOOK_OUTCOMES)
    on_look: Callable[[str], None] = lambda _outcome: None
    #: the watermark in force after the last measure
    _low: dt.datetime | None = field(default=None, init=False)
    #: the partitions with records, none read, that held it at None (watermark.held_back)
    _holding: list[PartitionProgress] | None = field(default=None, init=False)
    #: records the broker holds that no consumer has stored yet, at the last measure
    _unread: int = field(default=0, init=False)
    _catch_up: CatchUp = field(init=False)

    def __post_init__(self) -> None:
        self._catch_up = CatchUp(self.settings.catch_up_backlog,
                                 self.settings.catch_up_pass_seconds)

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
            outcome = self._look(conn, looked - measured_at)
            self.on_look(outcome)
            if outcome == MEASURED:
                self.sweep_once(conn, ends)
                measured_at = time.monotonic()
            # A look every sweep interval, and a pass only then. A pass costs a watermark
            # measure and some twenty statements whatever it decides, and under a steady
            # stream something is due at every moment: back to back, each pass would
            # decide a handful (at 1,000 records/s: about 40 passes a second, 0.4 of a
            # core). A look is one indexed query (two while there is no watermark yet):
            # records stored since the last one are found by the next, without consumers
            # notifying (storage.transaction).
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

    def _look(self, conn: psycopg.Connection, since_measured: float) -> str:
        """Whether to measure the watermark and pass now (MEASURED), or why not."""
        if since_measured < MEASURE_AT_LEAST_EVERY and self._catch_up.holds(
                self._unread, time.monotonic()):
            return CATCHING_UP
        due = self._next(conn)
        if since_measured >= MEASURE_AT_LEAST_EVERY:
            return MEASURED
        if not self._is_due(due):
            return NOTHING_DUE
        return MEASURED if self._may_decide(conn, due) else HELD_BACK

    def _may_decide(self, conn: psycopg.Connection, due: dt.datetime | None) -> bool:
        """Whether a pass now could decide something the last one could not: what is
        due is behind the watermark in force (a record that came late, a time rule), or
        the watermark may have moved. It cannot while partitions with records have read
        none of them (a topic whose consumer has not started, or has not stored yet): a
        measure then asks the broker and the database for the same answer, twenty
        times a second (domain.watermark.held_back)."""
        if self._holding is None or (due is not None and self._low is not None
                                     and due <= self._low):
            return True
        return stored_more(self._holding, self._progress(conn))

    def _progress(self, conn: psycopg.Connection) -> dict[tuple[str, int],
                                                         tuple[int, dt.datetime | None]]:
        return read_progress(conn)

    def sweep_once(self, conn: psycopg.Connection, ends: watermark.LogEnds
                   ) -> PassReport | None:
        measured = watermark.measure(conn, ends, self.settings.allowed_lateness)
        if measured is None:
            self._holding = None
            log.warning("watermark_not_moved", reason="the broker did not say where the "
                        "inbound partitions end")
            return None
        mark, partitions = measured
        low = watermark.advance(conn, mark)
        self._low, self._holding = low, held_back(mark, partitions)
        self._note_unread(unread(partitions))
        self.on_watermark(mark, partitions, low)
        if low is None or self._catch_up.holds(self._unread, time.monotonic()):
            return None
        self._catch_up.last_pass = time.monotonic()
        started = time.perf_counter()
        report = decide_pass(conn, low, self.settings.policy)
        self.on_pass(report, time.perf_counter() - started)
        return report

    def _note_unread(self, unread: int) -> None:
        """Keep what the measure found unread; log when catching up starts or ends."""
        was = self._catch_up.catching_up(self._unread)
        now = self._catch_up.catching_up(unread)
        self._unread = unread
        if now != was:
            log.info("sweeper_catching_up" if now else "sweeper_caught_up",
                     unread=unread, pass_seconds=self._catch_up.spacing)
