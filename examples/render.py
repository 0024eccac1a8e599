"""Print a sample file with its times moved to the present.

The samples are written with fixed dates (March 2026) so that they read as a story.
Published as they are, every record would be months older than its arrival: late for
the service's watermark, so decisions could not wait for what is still to come. This
moves every time by the same amount, so that the newest moment in the samples
(ANCHOR) is a few minutes ago, and every date by whole days (never by more than the
times moved, so a case that was in its opening window stays in it).

Each run's records are new records: their event ids and order ids end with the run's
tag (RUN, e.g. `EX-1001-k3x9`), so publishing the samples again is not a producer
reusing event ids for other content (which the service refuses as a conflict).

    RUN=k3x9 python3 render.py FILE   ->   the JSON lines of FILE, on standard output
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys

ANCHOR = dt.datetime(2026, 3, 14, 9, 0, tzinfo=dt.UTC)
TIME_FIELDS = ("occurred_at",)
DATE_FIELDS = ("ship_by", "estimated_delivery")


ID_FIELDS = ("event_id", "order_id")


def render(line: str, shift: dt.timedelta, run: str) -> str:
    record = json.loads(line)
    for name in ID_FIELDS:
        if name in record and run:
            record[name] = f"{record[name]}-{run}"
    for name in TIME_FIELDS:
        if name in record:
            moved = dt.datetime.fromisoformat(record[name].replace("Z", "+00:00")) + shift
            record[name] = moved.strftime("%Y-%m-%dT%H:%M:%SZ")
    for name in DATE_FIELDS:
        if record.get(name):
            moved_day = dt.date.fromisoformat(record[name]) + dt.timedelta(days=shift.days)
            record[name] = moved_day.isoformat()
    return json.dumps(record)


def main() -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    shift = now - dt.timedelta(minutes=5) - ANCHOR
    with open(sys.argv[1], encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                print(render(line, shift, os.environ.get("RUN", "")))


if __name__ == "__main__":
    main()
