"""Apply the schema migrations in `migrations/` (yoyo-migrations keeps track of them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

MIGRATIONS = Path(__file__).parent / "migrations"

#: yoyo's record of applied migrations; absent until the first `cases setup`
YOYO_TABLE = "_yoyo_migration"


def yoyo_url(database_url: str) -> str:
    """yoyo picks its driver from the URL's scheme; psycopg 3 is `postgresql+psycopg`."""
    scheme, _, rest = database_url.partition("://")
    return f"postgresql+psycopg://{rest}" if scheme in ("postgres", "postgresql") else database_url


def migrate(database_url: str) -> int:
    """Apply what is not applied yet; return how many migrations ran.

    Looks before it locks: with nothing to apply it only reads yoyo's tables, so the
    service's runtime role, which may not write them (docs/database-role.md), starts;
    with something to apply it needs the owner role (`cases setup` as the owner)."""
    from yoyo import get_backend, read_migrations

    backend = get_backend(yoyo_url(database_url))
    migrations = read_migrations(str(MIGRATIONS))
    if not backend.to_apply(migrations):
        return 0
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    return len(pending)


def migration_ids() -> list[str]:
    """Every migration's id, in the order they apply: yoyo's id is the file's name
    without `.sql`, and a `.rollback.sql` file belongs to the migration of its name."""
    return sorted(p.stem for p in MIGRATIONS.glob("*.sql")
                  if not p.name.endswith(".rollback.sql"))


def pending_migrations(conn: psycopg.Connection[Any]) -> list[str]:
    """The ids of the migrations `conn`'s database has not applied (every one on a
    database never set up), from yoyo's record, without yoyo: `cases run` asks this
    once for each component it starts, and importing yoyo and parsing every migration
    cost each start about a twentieth of a CPU-second. Only reads: the runtime role
    may read yoyo's table but not write it, and on a database yoyo has never touched
    nothing is created."""
    known = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (YOYO_TABLE,)).fetchone()
    if not known or not known[0]:
        return migration_ids()
    applied = {row[0] for row in conn.execute(
        sql.SQL("SELECT migration_id FROM {}").format(sql.Identifier(YOYO_TABLE)))}
    return [m for m in migration_ids() if m not in applied]
