"""The low watermark: how far in event time every inbound record has been read.

For each inbound partition the service knows where its consumer group has stored up to
(`next_offset`), the latest event time among the records stored (`frontier`) and where
the broker's log ends. A partition with nothing unread cannot hold back anything that
happened up to the wall clock less the allowed lateness. One with records still unread
vouches for the later of two moments, less the allowed lateness: the latest event time
it has stored, and the last time its log was seen ending at or before where it has
stored up to (every record not stored yet reached the broker after that moment, so it
happened at most the allowed lateness before it). One that has read nothing and was
never seen caught up vouches for nothing. The low watermark is the least of them, and
never more than the wall clock less the allowed lateness, whatever a record says its
time is.

A record is within the allowed lateness when it reached Kafka at most that long after
it happened, and at most that long behind the records before it in its partition. Every
such record is read before the watermark passes its time, which is what lets a decision
wait for the watermark and then stand.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Iterable, Mapping
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
    #: the last moment its log was seen ending at or before where it is stored up to:
    #: every record not stored yet reached the broker after it (LogEndHistory)
    read_through: dt.datetime | None = None

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
    marks = [m for m in (progress.frontier, progress.read_through) if m is not None]
    if not marks:
        return None
    return min(max(marks), now) - allowed_lateness


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


def unread(partitions: list[PartitionProgress]) -> int:
    """Records on the broker that no consumer has stored yet, every partition together."""
    return sum(p.unread for p in partitions)


def held_back(mark: Watermark, partitions: Iterable[PartitionProgress]
              ) -> list[PartitionProgress] | None:
    """The partitions that hold `mark` at None, having read nothing of the records they
    hold: until one of them stores some, no measure can give a watermark, and no log end
    a measure notes can vouch for them (their logs end past where they stand). None
    otherwise: a partition read part-way is measured as often as ever, since a log end
    noted now may vouch for where its consumer stores up to next (LogEndHistory)."""
    if mark.low is not None:
        return None
    held = set(mark.held_by)
    return [p for p in partitions if (p.topic, p.partition) in held] or None


def stored_more(holding: Iterable[PartitionProgress],
                stored: Mapping[tuple[str, int], tuple[int, dt.datetime | None]]) -> bool:
    """Whether the consumer of a partition that held the watermark back (`held_back`)
    has stored since: `stored` is the database's progress now. A partition still
    without a row has not (where its group committed, the next measure asks anyway)."""
    for p in holding:
        now = stored.get((p.topic, p.partition))
        if now is not None and now != (p.next_offset, p.frontier):
            return True
    return False


class LogEndHistory:
    """Where each partition's log was seen to end, and when: the wall clock read before
    the log ends were asked for. A record at or past an end seen at `t` was appended
    after `t`; so once a consumer has stored up to that end, whatever it has not stored
    reached the broker after `t`. With records arriving all the time a partition is
    seldom found read to its very end, and its latest event time can trail the clock
    by the gaps between its records; this bounds what it holds back by how far its
    consumer trails the log instead."""

    def __init__(self, keep: int = 256) -> None:
        self.keep = keep
        #: per partition, (log end, the last time it was seen), ends increasing
        self._seen: dict[tuple[str, int], deque[tuple[int, dt.datetime]]] = {}

    def note(self, at: dt.datetime, ends: Mapping[tuple[str, int], int]) -> None:
        """The log ends the broker answered just after the wall clock said `at`."""
        for where, end in ends.items():
            seen = self._seen.setdefault(where, deque(maxlen=self.keep))
            if seen and end < seen[-1][0]:
                continue  # a stale answer: it says nothing of what came after `at`
            if seen and end == seen[-1][0]:
                seen.pop()  # the same end, seen later: the later moment vouches more
            seen.append((end, at))

    def read_through(self, where: tuple[str, int], position: int) -> dt.datetime | None:
        """The last time the log was seen ending at or before `position`."""
        # newest first: a consumer keeping up has stored past the latest ends seen
        for end, at in reversed(self._seen.get(where, ())):
            if end <= position:
                return at
        return None
