"""How far a fleet has drained the backlog, and the clock the chaos run's faults follow.

A fleet's work on the backlog is three counts, each only ever growing: records stored
(the inbox), records decided (stored in `order_records` and `parcel_reports`, less
those still queued to be decided) and case events published. Its progress is the mean
of the three as fractions of what the baseline's drain came to, so that storing,
deciding and publishing weigh alike.

The baseline records its progress against time (`Pace`): the fault plan is drawn over the
baseline's drain in seconds, and in the chaos run a fault planned at second `t` comes
once the chaos run has made the progress the baseline had made at `t` (`Pace.seconds_at`).
So the faults follow the work: nothing moves while the broker or the database is down,
nor while a killed consumer's partitions wait for its session to time out, and the
clock stands still with it; kills planned for the deciding and publishing come while the
sweeper decides and the relay publishes, however much later than in the baseline.
"""

from __future__ import annotations

import bisect
import threading
import time
from dataclasses import dataclass, field

import psycopg

#: seconds between two readings
INTERVAL = 0.25

WORK_FIGURES = """
SELECT (SELECT count(*) FROM inbox),
       (SELECT count(*) FROM order_records)
         - (SELECT count(*) FROM undecided_records)
         + (SELECT count(*) FROM parcel_reports)
         - (SELECT count(*) FROM undecided_reports),
       (SELECT count(*) FROM case_events) - (SELECT count(*) FROM unpublished_case_events)
"""


@dataclass(frozen=True)
class Work:
    stored: int = 0
    decided: int = 0
    published: int = 0

    def fraction(self, of: Work) -> float:
        """The mean of the three counts as fractions of `of`'s (a count `of` has none
        of counts as done), at most 1."""
        parts = [min(1.0, mine / total) if total else 1.0 for mine, total in (
            (self.stored, of.stored), (self.decided, of.decided),
            (self.published, of.published))]
        return sum(parts) / len(parts)


def read_work(database_url: str) -> Work | None:
    """The counts now; None while PostgreSQL cannot say."""
    try:
        with psycopg.connect(database_url, autocommit=True, connect_timeout=2) as conn:
            row = conn.execute(WORK_FIGURES).fetchone()
    except psycopg.OperationalError:
        return None
    assert row is not None
    return Work(*(int(v) for v in row))


@dataclass
class Pace:
    """The baseline's progress against the seconds since its fleet started."""

    seconds: list[float]
    fractions: list[float]

    @classmethod
    def of(cls, samples: list[tuple[float, Work]], total: Work) -> Pace:
        pace = cls([0.0], [0.0])
        for at, work in samples:
            # counts only grow; a reading that lags behind an earlier one is ignored
            pace.seconds.append(at)
            pace.fractions.append(max(pace.fractions[-1], work.fraction(total)))
        return pace

    def seconds_at(self, fraction: float) -> float:
        """The last moment the baseline had made no more progress than `fraction`: how
        far into the baseline's drain a run that has made `fraction` of it is."""
        index = bisect.bisect_right(self.fractions, fraction) - 1
        if index >= len(self.seconds) - 1:
            return self.seconds[-1]
        # between two readings: where `fraction` falls on the line between them
        f0, f1 = self.fractions[index], self.fractions[index + 1]
        t0, t1 = self.seconds[index], self.seconds[index + 1]
        return t0 + (t1 - t0) * (fraction - f0) / (f1 - f0)


@dataclass
class WorkWatch:
    """Reads the counts every INTERVAL seconds in a thread of its own: `samples` are
    (seconds since `started`, counts); `latest` the last counts read."""

    database_url: str
    started: float = field(default_factory=time.monotonic)
    samples: list[tuple[float, Work]] = field(default_factory=list)
    latest: Work = field(default_factory=Work)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="work-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> list[tuple[float, Work]]:
        self._stop.set()
        self._thread.join()
        return self.samples

    def _run(self) -> None:
        while not self._stop.wait(INTERVAL):
            work = read_work(self.database_url)
            if work is not None:
                self.latest = work
                self.samples.append((time.monotonic() - self.started, work))
