"""`python -m workload`: counting, and clear errors for bad arguments."""

from __future__ import annotations

import pytest

from workload.__main__ import main


def test_count_prints_records_per_topic(capsys):
    assert main(["count", "--seed", "1", "--orders", "20"]) == 0
    out = capsys.readouterr().out
    for topic in ("orders", "messages", "carrier-tracking", "payments", "case-actions",
                  "total"):
        assert topic in out
    assert "OrderPlaced" in out and "20" in out


@pytest.mark.parametrize("args", [["count", "--seed", "x", "--orders", "5"],
                                  ["count", "--seed", "1", "--orders", "0"],
                                  ["count", "--seed", "1"],
                                  ["publish", "--seed", "1", "--orders", "5", "--rate", "-1"]])
def test_bad_arguments_exit_with_usage(args, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2
    assert "error" in capsys.readouterr().err


def test_publish_without_a_broker_setting_says_so(monkeypatch, capsys):
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    assert main(["publish", "--seed", "1", "--orders", "2"]) == 1
    assert "KAFKA_BOOTSTRAP_SERVERS" in capsys.readouterr().err
