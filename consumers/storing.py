"""Storing a batch: one PostgreSQL transaction for its records (the inbox) and how far it
read; retried while the database is away, and, when a record's values make it fail,
record by record so only the culprit becomes a dead letter."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import psycopg
import structlog
from tenacity import RetryCallState, Retrying, retry_if_exception, wait_exponential

from bootstrap.database import connect
from configuration import Settings
from consumers.batch import BatchReport
from consumers.dead_letters import DeadLetter, qualified
from service.store import Stored, store_batch
from service.unit_of_work import Inbound, PartitionStep
from storage.records import PostgresStore
from storage.transaction import transaction

log = structlog.get_logger("consumers.storing")

#: what one record's values can make the database raise (text it cannot store, a key
#: too long to index, a number out of range): such a record is dead-lettered alone
#: rather than failing its batch again on every retry
RECORD_ERRORS: tuple[type[Exception], ...] = (
    psycopg.DataError, psycopg.errors.ProgramLimitExceeded, ValueError, OverflowError)


def database_away(exc: BaseException) -> bool:
    """Worth retrying the same batch: the database, not a record, is the problem."""
    return (isinstance(exc, psycopg.OperationalError)
            and not isinstance(exc, psycopg.errors.ProgramLimitExceeded))


class StopRequested(Exception):
    """`stop` was set while a batch waited for the database."""


@dataclass
class StoreOutcome:
    stored: Stored
    #: records that failed on their own values, and conflicts: dead letters
    dead: list[tuple[Inbound, DeadLetter]]


class BatchStore:
    """Stores batches on one connection, named after the consumer group so that
    pg_stat_activity shows whose session waits on what."""

    def __init__(self, settings: Settings, group: str) -> None:
        self.settings, self.group = settings, group
        self._conn: psycopg.Connection | None = None

    def connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.settings, self.group)
        return self._conn

    def drop_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()

    close = drop_connection

    def attempt(self, good: list[Inbound], steps: list[PartitionStep],
                report: BatchReport) -> Stored:
        """One attempt: the batch stored and committed. Touches no Kafka client, so a
        thread of its own can run it."""
        began = time.perf_counter()
        with transaction(self.connection()) as conn:
            uow = PostgresStore(conn)
            stored = store_batch(uow, good, steps)
            written = time.perf_counter()
        report.commit += time.perf_counter() - written
        report.sql += written - began
        return stored


@dataclass
class Retrier:
    """Runs a batch's transaction until it commits, waiting with exponential backoff
    (0.2 s up to 10 s) while PostgreSQL is away, until `stop` is set (StopRequested).
    `waiting` runs before each wait (the live loop pauses its partitions and keeps its
    membership), `resumed` once it is over."""

    store: BatchStore
    stop: threading.Event
    waiting: Callable[[], None] = lambda: None
    resumed: Callable[[], None] = lambda: None
    #: called with each retry's number (a metric counts them)
    on_retry: Callable[[int], None] = lambda _attempt: None

    def _pause(self, seconds: float) -> None:
        self.stop.wait(seconds)

    def run(self, work: Callable[[], Stored], first: Callable[[], Stored] | None = None
            ) -> Stored:
        waited = False

        def before_sleep(state: RetryCallState) -> None:
            nonlocal waited
            waited = True
            self.waiting()
            error = state.outcome.exception() if state.outcome else None
            log.warning("database_unavailable_retrying", group=self.store.group,
                        attempt=state.attempt_number,
                        wait_seconds=round(state.upcoming_sleep, 3),
                        error=type(error).__name__,
                        reason=str(error).strip().splitlines()[0] if error else "")
            self.on_retry(state.attempt_number)
            self.store.drop_connection()

        retrying = Retrying(
            retry=retry_if_exception(database_away),
            wait=wait_exponential(multiplier=0.2, max=10),
            # SIGTERM during an outage: give the batch up rather than outlive the stop
            stop=lambda _state: self.stop.is_set(),
            sleep=self._pause,  # wakes at once on stop
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    if first is not None:
                        made, first = first, None
                        return made()
                    return work()
        except psycopg.OperationalError:
            if self.stop.is_set():
                raise StopRequested from None
            raise
        finally:
            if waited:
                self.resumed()
        raise AssertionError("unreachable")


def store_isolating(retrier: Retrier, good: list[Inbound], steps: list[PartitionStep],
                    report: BatchReport, first: Callable[[], Stored] | None = None
                    ) -> StoreOutcome:
    """The batch in one transaction (`first`'s, when it is under way already); if a
    record's values make it fail, each record in its own transaction, in order, so only
    the culprits fail (as dead letters), and then how far the batch read."""
    store = retrier.store
    try:
        stored = retrier.run(lambda: store.attempt(good, steps, report), first)
        return StoreOutcome(stored, [(item, DeadLetter(qualified(EventIdConflict), why))
                                     for item, why in stored.conflicts])
    except RECORD_ERRORS as exc:
        log.error("batch_failed_storing_one_by_one", group=store.group, records=len(good),
                  error=qualified(type(exc)))
    total, dead = Stored(), []
    for item in good:
        try:
            one = retrier.run(partial(store.attempt, [item], [], report))
        except RECORD_ERRORS as exc:
            log.error("record_failed", group=store.group, partition=item.cause.partition,
                      offset=item.cause.offset, error=qualified(type(exc)))
            dead.append((item, DeadLetter.of(exc)))
            continue
        total.stored += one.stored
        total.duplicates += one.duplicates
        dead += [(i, DeadLetter(qualified(EventIdConflict), why)) for i, why in one.conflicts]
    retrier.run(lambda: store.attempt([], steps, report))
    return StoreOutcome(total, dead)


class EventIdConflict(ValueError):
    """An event_id already used by a record with other content."""
