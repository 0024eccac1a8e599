"""What `cases run` checks before it starts a component: the database is migrated and
every topic exists. It never migrates or creates anything itself: `cases setup` does
that, as the database owner (docs/database-role.md), and the running service may well
lack the rights to (the runtime role cannot apply a migration; its Kafka principal need
not create topics)."""

from __future__ import annotations

import psycopg
from yoyo import get_backend, read_migrations

from bootstrap.database import CONNECT_TIMEOUT_SECONDS
from configuration import Settings
from consumers.topics import missing_topics
from storage.migrate import MIGRATIONS, yoyo_url

#: yoyo's record of applied migrations; absent until the first `cases setup`
YOYO_TABLE = "_yoyo_migration"


class NotSetUp(Exception):
    """The database or the topics are not ready for the service: `cases setup` first."""


def pending_migrations(database_url: str) -> list[str]:
    """The ids of the migrations not applied yet (every one on a database never set up).
    Only reads: on a database yoyo has never touched it does not let yoyo create its
    bookkeeping tables, and the runtime role may read but not write them."""
    with psycopg.connect(database_url, autocommit=True,
                         connect_timeout=CONNECT_TIMEOUT_SECONDS) as conn:
        known = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (YOYO_TABLE,)).fetchone()
    migrations = read_migrations(str(MIGRATIONS))
    if not known or not known[0]:
        return [m.id for m in migrations]
    backend = get_backend(yoyo_url(database_url))
    try:
        return [m.id for m in backend.to_apply(migrations)]
    finally:
        backend.connection.close()


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
