"""PostgreSQL connections, built from `Settings` in one place."""

from __future__ import annotations

import psycopg

from configuration import Settings

#: how long a connection attempt may take before it counts as the database being away
CONNECT_TIMEOUT_SECONDS = 10


def connect(settings: Settings, application_name: str) -> psycopg.Connection:
    """An autocommit connection (transactions are opened explicitly), named so that
    pg_stat_activity shows whose session waits on what."""
    return psycopg.connect(settings.database_url, autocommit=True,
                           application_name=application_name[:63],
                           connect_timeout=CONNECT_TIMEOUT_SECONDS)
