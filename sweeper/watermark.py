"""The low watermark, read from where it comes from: the broker says where each inbound
partition ends, the database how far the consumers have stored it."""

from __future__ import annotations

import datetime as dt

import psycopg
from confluent_kafka import Consumer, KafkaException

from consumers.topics import watermarks
from domain.watermark import PartitionProgress, Watermark, low_watermark
from schemas import INBOUND_TOPICS
from storage.progress import keep_watermark, read_progress


def measure(conn: psycopg.Connection, reader: Consumer, allowed_lateness: dt.timedelta,
            timeout: float = 5.0) -> tuple[Watermark, list[PartitionProgress]] | None:
    """The watermark now, with each partition's progress; None when the broker cannot
    say where a partition ends (then the watermark does not move)."""
    # the wall clock is read first: a record appended after the log ends are read is at
    # least this recent, so a partition found caught up vouches for nothing later
    now = dt.datetime.now(dt.UTC)
    try:
        ends = watermarks(reader, INBOUND_TOPICS, timeout)
    except KafkaException:
        return None
    stored = read_progress(conn)
    partitions = []
    for (topic, partition), (log_start, log_end) in sorted(ends.items()):
        next_offset, frontier = stored.get((topic, partition), (None, None))
        partitions.append(PartitionProgress(topic, partition, log_start, log_end,
                                            next_offset, frontier))
    return low_watermark(partitions, now, allowed_lateness), partitions


def advance(conn: psycopg.Connection, mark: Watermark) -> dt.datetime | None:
    """Keep `mark` (never moving back); the watermark in force."""
    return keep_watermark(conn, mark.low, list(mark.held_by), dt.datetime.now(dt.UTC))
