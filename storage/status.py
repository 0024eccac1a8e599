"""The service at a glance, as the database knows it (`cases status`): the watermark,
how far each partition is stored, what waits to be decided or published, and which
process leads the relay and the sweeper."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg

from storage.progress import read_progress, watermark


def _leader(conn: psycopg.Connection, lock_id: int) -> dict[str, Any] | None:
    """The session holding an advisory lock (a bigint key: its low 32 bits are objid)."""
    row = conn.execute(
        "SELECT a.pid, a.application_name, a.client_addr::text, a.backend_start "
        "FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.objid = %s AND l.classid = %s",
        (lock_id & 0xFFFFFFFF, lock_id >> 32)).fetchone()
    if row is None:
        return None
    pid, name, client, since = row
    return {"pid": pid, "application_name": name, "client": client,
            "since": since.isoformat() if since else None}


def database_status(conn: psycopg.Connection, relay_lock: int, sweeper_lock: int
                    ) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    kept = watermark(conn)
    outbox = conn.execute(
        "SELECT count(*), extract(epoch FROM now() - min(created_at)) "
        "FROM unpublished_case_events").fetchone()
    dead = conn.execute("SELECT count(*) FROM dead_letter_outbox "
                        "WHERE published_at IS NULL").fetchone()
    undecided: dict[str, int] = dict(conn.execute(
        "SELECT topic, count(*) FROM (SELECT r.topic FROM undecided_records u "
        "JOIN order_records r USING (event_id) UNION ALL SELECT r.topic "
        "FROM undecided_reports u JOIN parcel_reports r USING (event_id)) r GROUP BY topic"
    ).fetchall())
    return {
        "watermark": None if kept is None else {
            "low": kept["low"].isoformat() if kept["low"] else None,
            "delay_seconds": round((now - kept["low"]).total_seconds(), 1)
            if kept["low"] else None,
            "computed_at": kept["computed_at"].isoformat(),
            "held_by": [f"{t}[{p}]" for t, p in kept["held_by"]]},
        "stored": {f"{t}[{p}]": {"next_offset": o,
                                 "frontier": f.isoformat() if f else None}
                   for (t, p), (o, f) in sorted(read_progress(conn).items())},
        "undecided": undecided,
        "outbox": {"events": outbox[0] if outbox else 0,
                   "oldest_age_seconds": round(float(outbox[1]), 1)
                   if outbox and outbox[1] is not None else None,
                   "dead_letters": dead[0] if dead else 0},
        "relay_leader": _leader(conn, relay_lock),
        "sweeper_leader": _leader(conn, sweeper_lock),
    }
