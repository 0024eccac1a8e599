"""The low watermark: how far in event time every inbound record has been read.

For each inbound partition the service knows where its consumer group has stored up to
(`next_offset`), the latest event time among the records stored (`frontier`) and where
the broker's log ends. A partition with nothing unread cannot hold back anything that
happened up to the wall clock less the allowed lateness; one with records still unread
can only vouch for what it has read, less the allowed lateness; one that has read
nothing vouches for nothing. The low watermark is the least of them, and never more than
the wall clock less the allowed lateness, whatever a record says its time is.

A record is within the allowed lateness when it reached Kafka at most that long after
it happened, and at most that long behind the records before it in its partition. Every
such record is read before the watermark passes its time, which is what lets a decision
wait for the watermark and then stand.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class PartitionProgress:
    topic: str
    partition: int
    #: where the broker's log begins and ends (the next offset it will write)
    log_start: int
    log_end: int
    #: the offset after the last record stored from it, None when none ever was
    next_offset: int | None
    #: the latest event time among the records stored from it
    frontier: dt.datetime | None

    @property
    def unread(self) -> int:
        return max(0, self.log_end - max(self.next_offset or 0, self.log_start))


@dataclass(frozen=True)
class Watermark:
    #: None while some partition with unread records has been read not at all
    low: dt.datetime | None
    #: the partitions that hold it where it is (those at the minimum)
    held_by: tuple[tuple[str, int], ...]


def vouches_for(progress: PartitionProgress, now: dt.datetime,
                allowed_lateness: dt.timedelta) -> dt.datetime | None:
    """Up to when a partition says nothing more will come (None: nothing at all)."""
    if progress.unread == 0:
        return now - allowed_lateness
    if progress.frontier is None:
        return None
    return min(progress.frontier, now) - allowed_lateness


def low_watermark(partitions: Iterable[PartitionProgress], now: dt.datetime,
                  allowed_lateness: dt.timedelta) -> Watermark:
    """The least of what every partition vouches for, at most `now` less the lateness.
    `now` must be read before the partitions' log ends are: a record appended after
    those were read is then at least as recent as `now`."""
    ceiling = now - allowed_lateness
    low: dt.datetime | None = ceiling
    held: list[tuple[str, int]] = []
    for progress in partitions:
        mark = vouches_for(progress, now, allowed_lateness)
        where = (progress.topic, progress.partition)
        if mark is None:
            if low is not None:
                low, held = None, []
            held.append(where)
        elif low is not None and mark < low:
            low, held = mark, [where]
        elif low is not None and mark == low and mark < ceiling:
            held.append(where)
    return Watermark(low, tuple(held))
