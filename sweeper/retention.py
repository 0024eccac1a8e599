"""The inbox's retention, as the sweeper runs it: the rows of records that no topic can
deliver again (storage.inbox says when that is)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import psycopg
import structlog

from configuration import Settings
from consumers.topics import log_starts, oldest_record_time
from schemas import INBOUND_TOPICS, dlq_topic
from storage.inbox import prune_inbox

log = structlog.get_logger("sweeper.retention")

#: room for the clocks of the service's hosts and of the database to disagree
CLOCK_SLACK = dt.timedelta(hours=1)


def inbox_retention_pass(settings: Settings, conn: psycopg.Connection, now: dt.datetime,
                         topics: Sequence[str] = tuple(INBOUND_TOPICS)) -> int:
    """Delete the inbox rows of records below their partition's log start that were
    read before the oldest dead letter still kept (a redrive could bring that record
    back). Nothing is deleted when Kafka cannot say (KafkaException)."""
    starts = log_starts(settings, topics)
    before = now - CLOCK_SLACK
    oldest_dead_letter = oldest_record_time(settings, [dlq_topic(t) for t in topics])
    if oldest_dead_letter is not None:
        before = min(before, oldest_dead_letter - CLOCK_SLACK)
    pruned = prune_inbox(conn, starts, before)
    log.info("inbox_pruned", rows=pruned, processed_before=before.isoformat())
    return pruned
