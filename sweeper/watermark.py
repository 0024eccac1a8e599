"""The low watermark, read from where it comes from: the broker says where each inbound
partition ends, the database how far the consumers have stored it."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

import psycopg
from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from bootstrap import kafka
from domain.watermark import LogEndHistory, PartitionProgress, Watermark, low_watermark
from schemas import INBOUND_TOPICS
from storage.progress import Progress, keep_watermark, read_progress

#: how long the partitions and where their logs begin are taken as known (both change
#: rarely: a partition added, retention deleting old segments)
METADATA_SECONDS = 30.0


class LogEnds:
    """Where every inbound partition's log ends, asked in one request per broker
    (ListOffsets); the partitions and where their logs begin are refreshed now and then."""

    def __init__(self, admin: AdminClient, timeout: float = 5.0,
                 group_reader: Callable[[str], Consumer] | None = None) -> None:
        self.admin, self.timeout = admin, timeout
        #: a consumer of a group that joins nothing, to ask where the group committed
        self.group_reader = group_reader
        self._readers: dict[str, Consumer] = {}
        self._starts: dict[tuple[str, int], int] = {}
        self._highest: dict[tuple[str, int], int] = {}
        self._known_until = 0.0
        #: the ends the broker answered, before the never-backwards rule, and when
        self.history = LogEndHistory()

    def _offsets(self, partitions: list[tuple[str, int]], spec: OffsetSpec
                 ) -> dict[tuple[str, int], int]:
        futures = self.admin.list_offsets(
            {TopicPartition(t, p): spec for t, p in partitions},
            request_timeout=self.timeout)
        found = {}
        for tp, future in futures.items():
            offset = future.result(self.timeout).offset
            # a broker shutting down answers OFFSET_INVALID (-1001) without an error: taken
            # as an end, it would make every partition look read to its end
            if offset < 0:
                raise KafkaException(f"the broker gave no offset for {tp.topic}[{tp.partition}]")
            found[(tp.topic, tp.partition)] = offset
        return found

    def read(self, asked_at: dt.datetime) -> dict[tuple[str, int], tuple[int, int]]:
        """(log start, log end) of every inbound partition, asked once the wall clock
        said `asked_at`; KafkaException when the broker cannot say."""
        if time.monotonic() >= self._known_until or not self._starts:
            metadata = self.admin.list_topics(timeout=self.timeout)
            partitions = []
            for topic in INBOUND_TOPICS:
                found = metadata.topics.get(topic)
                if found is None or found.error is not None:
                    raise KafkaException(f"topic {topic} is not on the broker")
                partitions += [(topic, p) for p in found.partitions]
            self._starts = self._offsets(partitions, OffsetSpec.earliest())
            self._known_until = time.monotonic() + METADATA_SECONDS
        ends = self._offsets(sorted(self._starts), OffsetSpec.latest())
        self.history.note(asked_at, ends)
        # a log end never moves back (but in an unclean leader election, where holding
        # the watermark is the safe answer): an answer below one seen is a stale one
        for where, end in ends.items():
            self._highest[where] = max(end, self._highest.get(where, end))
        return {where: (self._starts[where], self._highest[where]) for where in ends}

    def committed(self, partitions: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """Where the service's consumer groups committed these partitions (those never
        committed are left out); KafkaException when the broker cannot say. Asked by a
        consumer of each group, not the admin client: librdkafka's admin OffsetFetch can
        crash the process (SIGSEGV) when the group's coordinator is not ready yet."""
        if self.group_reader is None:
            return {}
        by_group: dict[str, list[TopicPartition]] = {}
        for topic, partition in partitions:
            by_group.setdefault(kafka.consumer_group(topic), []).append(
                TopicPartition(topic, partition))
        found: dict[tuple[str, int], int] = {}
        for group, wanted in sorted(by_group.items()):
            reader = self._readers.get(group)
            if reader is None:
                reader = self._readers[group] = self.group_reader(group)
            for tp in reader.committed(wanted, timeout=self.timeout):
                if tp.error is None and tp.offset >= 0:
                    found[(tp.topic, tp.partition)] = tp.offset
        return found

    def close(self) -> None:
        for reader in self._readers.values():
            reader.close()
        self._readers.clear()


def partitions_read(logs: dict[tuple[str, int], tuple[int, int]], stored: Progress,
                    committed: dict[tuple[str, int], int],
                    history: LogEndHistory | None = None) -> list[PartitionProgress]:
    """Each partition's progress: what the consumers stored (storage.progress), or, for
    a partition nothing was stored from in this database, where its group committed (a
    database set up anew beside groups that have read on: the group's position is what
    was read; a replay brings what the database missed, as late records)."""
    partitions = []
    for (topic, partition), (log_start, log_end) in sorted(logs.items()):
        next_offset, frontier = stored.get((topic, partition), (None, None))
        if next_offset is None:
            next_offset = committed.get((topic, partition))
        read_through = None if history is None else history.read_through(
            (topic, partition), max(next_offset or 0, log_start))
        partitions.append(PartitionProgress(topic, partition, log_start, log_end,
                                            next_offset, frontier, read_through))
    return partitions


def measure(conn: psycopg.Connection, ends: LogEnds, allowed_lateness: dt.timedelta
            ) -> tuple[Watermark, list[PartitionProgress]] | None:
    """The watermark now, with each partition's progress; None when the broker cannot
    say where a partition ends (then the watermark does not move)."""
    # the wall clock is read first: a record appended after the log ends are read is at
    # least this recent, so a partition found caught up vouches for nothing later
    now = dt.datetime.now(dt.UTC)
    try:
        logs = ends.read(now)
    except (KafkaException, TimeoutError):
        return None
    stored = read_progress(conn)
    # rare (a fresh database): partitions with records and nothing stored from them
    unknown = [where for where, (start, end) in logs.items()
               if where not in stored and end > start]
    try:
        committed = ends.committed(unknown) if unknown else {}
    except (KafkaException, TimeoutError):
        return None
    partitions = partitions_read(logs, stored, committed, ends.history)
    return low_watermark(partitions, now, allowed_lateness), partitions


def advance(conn: psycopg.Connection, mark: Watermark) -> dt.datetime | None:
    """Keep `mark` (never moving back); the watermark in force."""
    return keep_watermark(conn, mark.low, list(mark.held_by), dt.datetime.now(dt.UTC))
