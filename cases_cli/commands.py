"""`cases setup`, `run` and `sweep`: the service's components and passes, as an operator
starts them (the work itself is in bootstrap/, sweeper/ and storage/)."""

from __future__ import annotations

import datetime as dt
import sys

import structlog

from bootstrap.database import connect
from bootstrap.supervisor import supervise
from cases_cli.errors import CommandError
from cases_cli.preflight import NotSetUp, check_set_up
from configuration import Settings, settings_from_env
from consumers.topics import create_topics, stamp_inbound_topics
from storage.migrate import migrate

log = structlog.get_logger("cases")


def setup(partitions: int | None = None, settings: Settings | None = None,
          replication_factor: int | None = None) -> int:
    """Migrations and missing topics; partitions and replication factor by default from
    the settings (CASES_TOPIC_PARTITIONS, CASES_TOPIC_REPLICATION_FACTOR; unset: the
    broker's defaults)."""
    settings = settings or settings_from_env()
    ran = migrate(settings.database_url)
    created = create_topics(settings, partitions=partitions,
                            replication_factor=replication_factor)
    stamped = stamp_inbound_topics(settings)
    log.info("setup_done", migrations_applied=ran, topics_created=created,
             topics_stamped_by_broker=stamped)
    return 0


def set_up(settings: Settings) -> None:
    """What `cases run` waits for: the database migrated and every topic there
    (preflight.py); it never migrates or creates them itself. What only `cases setup` can
    fix is a CommandError, one line."""
    try:
        check_set_up(settings)
    except NotSetUp as exc:
        raise CommandError(str(exc)) from None


def run(components: list[str], log_level: str = "INFO") -> int:
    settings = settings_from_env()
    return supervise(components, settings, log_level, set_up)


def sweep(now: dt.datetime | None) -> int:
    """One pass of the sweeper's decisions up to `now` (default: the watermark in force),
    without measuring the watermark or moving it."""
    from storage.progress import watermark  # the sweeper's code: not in `cases run X`
    from sweeper.decisions import decide_pass

    settings = settings_from_env(need_kafka=False)
    with connect(settings, "order-cases.cases-sweep") as conn:
        kept = watermark(conn)
        low = kept["low"] if kept else None
        until = now or low
        if until is None:
            print("cases: no watermark yet (the sweeper has not measured one); give --now",
                  file=sys.stderr)
            return 1
        if low is None or until > low:
            log.warning("sweep_ahead_of_watermark", until=until.isoformat(),
                        watermark=low.isoformat() if low else None)
        report = decide_pass(conn, until, settings.policy)
    print(f"decided up to {until.isoformat()}: {report.orders} order(s), "
          f"{report.records} record(s), {report.events} case event(s)", file=sys.stderr)
    return 0
