"""A database of its own migrated up to (not including) a migration: where the tests of
that migration put the rows it must carry over."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
from yoyo import get_backend, read_migrations

from configuration import Settings
from storage.migrate import MIGRATIONS, yoyo_url


@contextmanager
def database_before(settings: Settings, migration: str) -> Iterator[str]:
    """The URL of a new database with every migration before `migration` applied;
    dropped at the end."""
    name = f"cases_{migration}_{uuid.uuid4().hex[:8]}"
    url = urlunsplit(urlsplit(settings.database_url)._replace(path=f"/{name}"))
    with psycopg.connect(settings.database_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        backend = get_backend(yoyo_url(url))
        older = read_migrations(str(MIGRATIONS)).filter(lambda m: m.id < migration)
        with backend.lock():
            backend.apply_migrations(backend.to_apply(older))
        yield url
    finally:
        with psycopg.connect(settings.database_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(
                sql.Identifier(name)))
