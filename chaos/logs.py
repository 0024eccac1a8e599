"""What the components' own logs say about a run: how many records their batches saw,
applied, and skipped as already applied (redelivered after a kill or a lost session and
caught by the inbox: at-least-once delivery doing its work)."""

from __future__ import annotations

import json
from pathlib import Path

FIELDS = ("records", "applied", "duplicates", "dead_letters")


def batch_totals(log_dir: Path) -> dict[str, int]:
    totals = dict.fromkeys(FIELDS, 0)
    for path in sorted(log_dir.glob("*.log")):
        with path.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                if not line.startswith("{") or '"batch_done"' not in line:
                    continue
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:  # a line cut short by SIGKILL
                    continue
                for name in FIELDS:
                    totals[name] += int(entry.get(name, 0))
    return totals
