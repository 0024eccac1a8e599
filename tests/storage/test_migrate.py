"""`cases run` lists the migrations without yoyo (storage.migrate.migration_ids): the
same ids, in the same order, as yoyo reads from the folder it applies."""

from __future__ import annotations

from yoyo import read_migrations

from storage.migrate import MIGRATIONS, migration_ids


def test_migration_ids_are_yoyos_in_its_order():
    assert migration_ids() == [m.id for m in read_migrations(str(MIGRATIONS))]
