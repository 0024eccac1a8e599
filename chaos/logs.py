"""What the components' own logs say about a run: how many records the consumers'
batches saw, stored, and skipped as already stored (redelivered after a kill or a lost
session and caught by the inbox: at-least-once delivery doing its work); and what the
sweepers' passes decided, with the orders decided again for a record found late."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: summed over the consumers' `batch_done` lines (consumers/loop.py)
BATCH_FIELDS = ("records", "stored", "duplicates", "dead_letters")
#: summed over the sweepers' `decided` lines (sweeper/decisions.py)
PASS_FIELDS = ("orders", "records", "events", "late_orders", "superseded", "refused")


def _entries(paths: Iterator[Path], event: str) -> Iterator[dict[str, Any]]:
    marker = f'"{event}"'
    for path in sorted(paths):
        with path.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                if not line.startswith("{") or marker not in line:
                    continue
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:  # a line cut short by SIGKILL
                    continue
                if entry.get("event") == event:
                    yield entry


def _totals(entries: Iterator[dict[str, Any]], fields: tuple[str, ...]) -> dict[str, int]:
    totals = dict.fromkeys(fields, 0)
    for entry in entries:
        for name in fields:
            totals[name] += int(entry.get(name, 0))
    return totals


def batch_totals(log_dir: Path) -> dict[str, int]:
    return _totals(_entries(log_dir.glob("*.log"), "batch_done"), BATCH_FIELDS)


def sweeper_totals(log_dir: Path) -> dict[str, int]:
    totals = _totals(_entries(log_dir.glob("sweeper-*.log"), "decided"), PASS_FIELDS)
    # one line per order decided again (sweeper's service/decide.py)
    totals["decided_again"] = sum(1 for _ in _entries(log_dir.glob("sweeper-*.log"),
                                                      "late_record_decided_again"))
    return totals
