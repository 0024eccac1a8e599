"""Which sweeper leads, read from the instances' own logs, and the fault targets that
name a sweeper by its role resolved to an instance (no processes started)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from chaos.faults import Fault, FaultLog
from chaos.fleet import Fleet, Instance
from chaos.inject import FaultRunner
from chaos.services import LocalServices


class _Running:
    pid = 1

    @staticmethod
    def poll() -> None:
        return None


def _sweeper(tmp_path: Path, number: int, led_at: list[str]) -> Instance:
    log = tmp_path / f"sweeper-{number}.log"
    log.write_text("".join(json.dumps({"event": "sweeper_leading", "timestamp": t}) + "\n"
                           for t in led_at) + '{"event": "decided", "orders": 1}\n')
    instance = Instance("sweeper", number, log)
    instance.process = _Running()  # type: ignore[assignment]
    return instance


def _fleet(tmp_path: Path, *instances: Instance) -> Fleet:
    return Fleet({}, tmp_path, instances=list(instances))


def test_the_leader_is_the_one_that_took_the_lead_last(tmp_path):
    one = _sweeper(tmp_path, 1, ["2026-12-06T10:00:00Z", "2026-12-06T10:05:00Z"])
    two = _sweeper(tmp_path, 2, ["2026-12-06T10:02:00Z"])
    assert _fleet(tmp_path, one, two).leader("sweeper") is one


def test_what_a_process_logged_before_its_restart_does_not_count(tmp_path):
    one = _sweeper(tmp_path, 1, ["2026-12-06T10:05:00Z"])
    one.log_offset = one.log_path.stat().st_size  # started again since
    two = _sweeper(tmp_path, 2, ["2026-12-06T10:02:00Z"])
    assert _fleet(tmp_path, one, two).leader("sweeper") is two
    one.process = None  # killed
    two.process = None
    assert _fleet(tmp_path, one, two).leader("sweeper") is None


def test_a_role_resolves_to_the_instance_playing_it_now(tmp_path):
    one = _sweeper(tmp_path, 1, [])
    two = _sweeper(tmp_path, 2, ["2026-12-06T10:02:00Z"])
    runner = FaultRunner([], _fleet(tmp_path, one, two), LocalServices(tmp_path), FaultLog(),
                         outage_hold=0)
    assert runner._target("sweeper#leader") == (two, " (leading)")
    assert runner._target("sweeper#standby") == (one, " (standing by)")
    one.process = None
    assert runner._target("sweeper#standby") == (None, " (standing by)")


class _Services:
    """Restarts that take a while."""

    def restart_kafka(self, _hold: float) -> None:
        time.sleep(0.5)

    def restart_postgres(self, _hold: float) -> None:
        time.sleep(0.1)


def _run(runner: FaultRunner, seconds: float = 10) -> None:
    started = time.monotonic()
    while runner.pending() and time.monotonic() - started < seconds:
        runner.step()
        time.sleep(0.01)


def test_faults_come_on_the_drain_clock_and_one_outage_at_a_time(tmp_path):
    log = FaultLog()
    drain = [0.0]  # the drain's clock, moved by the test
    runner = FaultRunner([Fault(1.0, "kafka"), Fault(1.1, "postgres")], _fleet(tmp_path),
                         _Services(), log, outage_hold=0,  # type: ignore[arg-type]
                         clock=lambda _elapsed: drain[0])
    _run(runner, 0.3)
    assert log.broker_restarts == 0 and runner.pending()  # the drain has not got there
    drain[0] = 2.0
    _run(runner)
    assert log.broker_restarts == log.postgres_restarts == 1
    kafka_back = next(n for n, line in enumerate(log.lines) if "Kafka broker: started" in line)
    postgres_stop = next(n for n, line in enumerate(log.lines) if "PostgreSQL: stop" in line)
    assert kafka_back < postgres_stop
