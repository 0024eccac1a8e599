"""How far the inbound partitions have been read (written by the consumers' batches,
storage.records), and the low watermark the sweeper computes from it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg

from storage.transaction import dumps

Progress = dict[tuple[str, int], tuple[int, dt.datetime | None]]


def read_progress(conn: psycopg.Connection) -> Progress:
    """(topic, partition) -> (next offset, frontier)."""
    return {(topic, partition): (next_offset, frontier)
            for topic, partition, next_offset, frontier in conn.execute(
                'SELECT topic, "partition", next_offset, frontier FROM inbound_progress',
                prepare=True).fetchall()}


def keep_watermark(conn: psycopg.Connection, low: dt.datetime | None,
                   held_by: list[tuple[str, int]], computed_at: dt.datetime
                   ) -> dt.datetime | None:
    """Keep the watermark just computed unless the one kept is later (it never moves
    back: what was decided behind it stands); return the one in force."""
    row = conn.execute(
        """
        INSERT INTO watermark (singleton, low, computed_at, held_by)
        VALUES (true, %s, %s, %s)
        ON CONFLICT (singleton) DO UPDATE
        SET low = greatest(watermark.low, excluded.low), computed_at = excluded.computed_at,
            held_by = excluded.held_by
        RETURNING low
        """, (low, computed_at, dumps([list(h) for h in held_by])), prepare=True).fetchone()
    return row[0] if row else None


def watermark(conn: psycopg.Connection) -> dict[str, Any] | None:
    """The watermark in force, when it was computed and what holds it back."""
    row = conn.execute("SELECT low, computed_at, held_by FROM watermark").fetchone()
    if row is None:
        return None
    low, computed_at, held_by = row
    return {"low": low, "computed_at": computed_at,
            "held_by": [tuple(h) for h in held_by or []]}
