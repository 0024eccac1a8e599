"""What `cases run` checks before it starts a component: the database is migrated and
every topic exists. It never migrates or creates anything itself: `cases setup` does
that, as the database owner (docs/database-role.md), and the running service may well
lack the rights to (the runtime role cannot apply a migration; its Kafka principal need
not create topics)."""

from __future__ import annotations

import psycopg

from bootstrap.database import CONNECT_TIMEOUT_SECONDS
from configuration import Settings
from consumers.topics import missing_topics
from storage.migrate import pending_migrations as pending_in


class NotSetUp(Exception):
    """The database or the topics are not ready for the service: `cases setup` first."""


def pending_migrations(database_url: str) -> list[str]:
    """The ids of the migrations not applied yet (storage.migrate.pending_migrations)."""
    with psycopg.connect(database_url, autocommit=True,
                         connect_timeout=CONNECT_TIMEOUT_SECONDS) as conn:
        return pending_in(conn)


def check_set_up(settings: Settings) -> None:
    """NotSetUp, in one line naming what is missing, unless the database is migrated and
    every topic exists; psycopg.OperationalError or KafkaException when either cannot be
    reached (the caller waits for them)."""
    pending = pending_migrations(settings.database_url)
    missing = missing_topics(settings)
    problems = []
    if pending:
        problems.append(f"database migrations not applied: {', '.join(pending)}")
    if missing:
        problems.append(f"topics missing: {', '.join(missing)}")
    if problems:
        raise NotSetUp(f"not set up ({'; '.join(problems)}): run `cases setup` first "
                       f"(as the database owner)")
