"""A pass of the sweeper's decisions on PostgreSQL, up to a moment."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import structlog

from domain.policy import Policy
from service.decide import PassReport, decide_until
from storage.decisions import PostgresDecisions
from storage.transaction import transaction

log = structlog.get_logger("sweeper")


def decide_pass(conn: psycopg.Connection, until: dt.datetime, policy: Policy) -> PassReport:
    """Everything due by `until`: each chunk of orders its own transaction on `conn`."""

    units: list[PostgresDecisions] = []

    @contextmanager
    def unit() -> Iterator[PostgresDecisions]:
        with transaction(conn):
            units.append(PostgresDecisions(conn, policy))
            yield units[-1]

    started = time.perf_counter()
    report = decide_until(unit, until, policy)
    if report.orders or report.standing:
        log.info("decided", until=until.isoformat(), orders=report.orders,
                 records=report.records, events=report.events,
                 late_orders=report.late_orders, superseded=report.superseded,
                 refused=report.refused, deadlines=report.deadlines,
                 sql=round(sum(u.sql_seconds for u in units), 6),
                 state=round(sum(u.state_seconds for u in units), 6),
                 state_bytes=sum(u.state_bytes for u in units),
                 seconds=round(time.perf_counter() - started, 6))
    return report
