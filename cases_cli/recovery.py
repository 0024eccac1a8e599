"""The operator's recovery commands: `cases replay` and `cases dlq list|redrive`."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial

from tqdm import tqdm

from cases_cli.errors import CommandError
from configuration import settings_from_env
from consumers import redrive as dead_letters
from consumers.replay import Progress, ReplayError, ReplayReport
from consumers.replay import replay as replay_topic


@contextmanager
def _progress_bar(label: str) -> Iterator[Progress]:
    """A progress bar on stderr (only on a terminal: logs and pipes stay clean)."""
    with tqdm(desc=label, unit="rec", file=sys.stderr, disable=None, leave=False) as bar:
        def advance(covered: int, total: int) -> None:
            if bar.total != total:
                bar.total = total
                bar.refresh()
            bar.update(covered)

        yield advance


def _summary(verb: str, topic: str, report: ReplayReport) -> str:
    return (f"{verb} {topic}: {report.records} record(s), {report.stored} stored, "
            f"{report.duplicates} already stored, {report.dead_letters} dead letter(s) "
            f"in {report.seconds:.1f}s (the sweeper decides what was stored)")


def _guarded(work: Callable[[], ReplayReport]) -> ReplayReport:
    try:
        return work()
    except ReplayError as exc:
        raise CommandError(str(exc)) from None


def replay(topics: list[str], from_offset: int | None, from_time: dt.datetime | None) -> int:
    settings = settings_from_env()
    for topic in topics:
        with _progress_bar(f"replay {topic}") as progress:
            report = _guarded(partial(replay_topic, settings, topic, from_offset=from_offset,
                                      from_time=from_time, progress=progress))
        print(_summary("replayed", topic, report))
    return 0


def dlq_list(topic: str, as_json: bool) -> int:
    settings = settings_from_env(need_database=False)
    try:
        entries = dead_letters.list_dead_letters(settings, topic)
    except ReplayError as exc:
        raise CommandError(str(exc)) from None
    for entry in entries:
        if as_json:
            print(json.dumps(entry.as_dict()))
        else:
            status = "redriven" if entry.redriven else "pending "
            print(f"{entry.dlq_partition}/{entry.dlq_offset}  {status}  {entry.original}  "
                  f"{entry.original_time or '-'}  {entry.error}: {entry.reason}")
    pending = sum(not e.redriven for e in entries)
    print(f"{len(entries)} dead letter(s) on {topic}.dlq, {pending} not yet redriven",
          file=sys.stderr)
    return 0


def dlq_redrive(topic: str) -> int:
    settings = settings_from_env()
    with _progress_bar(f"redrive {topic}.dlq") as progress:
        report = _guarded(lambda: dead_letters.redrive(settings, topic, progress=progress))
    print(_summary("redrove", f"{topic}.dlq", report))
    return 0
