"""What `cases run` finds pending, read from yoyo's table without yoyo, is what yoyo
itself would apply: on a database never set up, part-way migrated, and migrated."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
from yoyo import get_backend, read_migrations

from configuration import Settings
from storage.migrate import MIGRATIONS, migrate, migration_ids, pending_migrations, yoyo_url
from tests.integration.migrated import database_before


def _yoyos_pending(url: str) -> list[str]:
    backend = get_backend(yoyo_url(url))
    try:
        return [m.id for m in backend.to_apply(read_migrations(str(MIGRATIONS)))]
    finally:
        backend.connection.close()


def _pending(url: str) -> list[str]:
    with psycopg.connect(url, autocommit=True) as conn:
        return pending_migrations(conn)


def test_a_database_never_set_up_has_every_migration_pending(settings: Settings):
    name = f"never_set_up_{uuid.uuid4().hex[:8]}"
    url = urlunsplit(urlsplit(settings.database_url)._replace(path=f"/{name}"))
    with psycopg.connect(settings.database_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        assert _pending(url) == migration_ids()
        with psycopg.connect(url, autocommit=True) as conn:  # and nothing was created
            assert conn.execute("SELECT to_regclass('_yoyo_migration')").fetchone() == (None,)
    finally:
        with psycopg.connect(settings.database_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(
                sql.Identifier(name)))


def test_part_way_and_fully_migrated_agree_with_yoyo(settings: Settings):
    with database_before(settings, "0007.undecided-queues") as url:
        expected = [m for m in migration_ids() if m >= "0007"]
        assert _pending(url) == expected == _yoyos_pending(url)
        migrate(url)
        assert _pending(url) == [] == _yoyos_pending(url)
