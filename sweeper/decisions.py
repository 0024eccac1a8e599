"""A pass of the sweeper's decisions on PostgreSQL, up to a moment."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
import structlog

from domain.policy import Policy
from service.decide import PassReport, decide_until
from storage.decisions import PostgresDecisions
from storage.transaction import transaction

log = structlog.get_logger("sweeper")


@dataclass
class _Spent:
    """What a pass's units of work spent, summed as each ends: a pass over a backlog
    runs a hundred of them, and each holds what it read (its queue rows, its sellers)."""

    sql: float = 0.0
    state: float = 0.0
    state_bytes: int = 0

    def add(self, uow: PostgresDecisions) -> None:
        self.sql += uow.sql_seconds
        self.state += uow.state_seconds
        self.state_bytes += uow.state_bytes


def decide_pass(conn: psycopg.Connection, until: dt.datetime, policy: Policy) -> PassReport:
    """Everything due by `until`: each chunk of orders its own transaction on `conn`."""

    spent = _Spent()

    @contextmanager
    def unit() -> Iterator[PostgresDecisions]:
        with transaction(conn):
            uow = PostgresDecisions(conn, policy)
            try:
                yield uow
            finally:
                spent.add(uow)

    started = time.perf_counter()
    report = decide_until(unit, until, policy)
    if report.orders or report.standing:
        log.info("decided", until=until.isoformat(), orders=report.orders,
                 records=report.records, events=report.events,
                 late_orders=report.late_orders, superseded=report.superseded,
                 refused=report.refused, deadlines=report.deadlines,
                 sql=round(spent.sql, 6), state=round(spent.state, 6),
                 state_bytes=spent.state_bytes,
                 seconds=round(time.perf_counter() - started, 6))
    return report
