"""What the components' logs add up to: the consumers' batches, the sweepers' passes and
the orders they decided again; a line cut short by SIGKILL counts for nothing."""

from __future__ import annotations

import json

from chaos.logs import batch_totals, sweeper_totals


def _lines(*entries: dict) -> str:
    return "".join(json.dumps(e) + "\n" for e in entries)


def test_batches_and_passes_are_summed_per_run(tmp_path):
    (tmp_path / "orders-1.log").write_text(_lines(
        {"event": "batch_done", "records": 3, "stored": 2, "duplicates": 1,
         "dead_letters": 0},
        {"event": "batch_done", "records": 1, "stored": 1, "duplicates": 0,
         "dead_letters": 0}) + '{"event": "batch_done", "reco')
    (tmp_path / "sweeper-1.log").write_text(_lines(
        {"event": "decided", "orders": 2, "records": 5, "events": 1, "late_orders": 0,
         "superseded": 0, "refused": 0},
        {"event": "late_record_decided_again", "order_id": "o1"}))
    (tmp_path / "sweeper-2.log").write_text(_lines(
        {"event": "decided", "orders": 1, "records": 1, "events": 2, "late_orders": 1,
         "superseded": 1, "refused": 0}))
    assert batch_totals(tmp_path) == {"records": 4, "stored": 3, "duplicates": 1,
                                      "dead_letters": 0}
    assert sweeper_totals(tmp_path) == {"orders": 3, "records": 6, "events": 3,
                                        "late_orders": 1, "superseded": 1, "refused": 0,
                                        "decided_again": 1}
