"""Apply the schema migrations in `migrations/` (yoyo-migrations keeps track of them)."""

from __future__ import annotations

from pathlib import Path

from yoyo import get_backend, read_migrations

MIGRATIONS = Path(__file__).parent / "migrations"


def yoyo_url(database_url: str) -> str:
    """yoyo picks its driver from the URL's scheme; psycopg 3 is `postgresql+psycopg`."""
    scheme, _, rest = database_url.partition("://")
    return f"postgresql+psycopg://{rest}" if scheme in ("postgres", "postgresql") else database_url


def migrate(database_url: str) -> int:
    """Apply what is not applied yet; return how many migrations ran.

    Looks before it locks: with nothing to apply it only reads yoyo's tables, so the
    service's runtime role, which may not write them (docs/database-role.md), starts;
    with something to apply it needs the owner role (`cases setup` as the owner)."""
    backend = get_backend(yoyo_url(database_url))
    migrations = read_migrations(str(MIGRATIONS))
    if not backend.to_apply(migrations):
        return 0
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    return len(pending)
