"""The chaos run's fault plan: enough kills, everyone (the relay, the leading sweeper and
the standby too), never a kill of an instance that is still down, both outages, and the
same plan for the same seed and window."""

import itertools

import pytest

from chaos.faults import plan
from chaos.fleet import CHAOS_INSTANCES, fault_targets

INSTANCES = fault_targets(CHAOS_INSTANCES)


def test_the_sweepers_are_targets_by_role_the_others_by_name():
    assert CHAOS_INSTANCES["sweeper"] == 2
    assert {"sweeper#leader", "sweeper#standby", "relay#1", "payments#2"} <= set(INSTANCES)
    assert not any(t.startswith("sweeper#") and t[-1].isdigit() for t in INSTANCES)
    assert fault_targets({"orders": 1, "sweeper": 1}) == ["orders#1", "sweeper#leader"]


def test_same_seed_same_plan_and_another_seed_another():
    assert plan(7, INSTANCES, 120, 24) == plan(7, INSTANCES, 120, 24)
    assert plan(7, INSTANCES, 120, 24) != plan(8, INSTANCES, 120, 24)


@pytest.mark.parametrize("window", [45, 120])
def test_every_instance_killed_and_each_back_before_its_next_kill(window):
    faults = plan(3, INSTANCES, window, 24)
    kills = [f for f in faults if f.kind == "kill"]
    assert len(kills) >= 24
    assert {k.target for k in kills} == set(INSTANCES)
    for target in INSTANCES:
        own = sorted((k for k in kills if k.target == target), key=lambda k: k.at)
        assert all(a.at + a.down_for < b.at for a, b in itertools.pairwise(own))


@pytest.mark.parametrize("window", [45, 120])
def test_one_broker_and_one_database_restart_inside_the_window_unless_disabled(window):
    faults = plan(3, INSTANCES, window, 24)
    assert [f.kind for f in faults].count("kafka") == 1
    assert [f.kind for f in faults].count("postgres") == 1
    assert all(0 < f.at < window for f in faults)
    assert {f.kind for f in plan(3, INSTANCES, window, 24, restarts=False)} == {"kill"}


def test_a_shared_consumer_group_member_is_killed_just_before_the_database_outage():
    for seed in range(1, 20):
        faults = plan(seed, INSTANCES, 120, 24)
        outage = next(f for f in faults if f.kind == "postgres")
        before = [f for f in faults if f.kind == "kill" and outage.at - 5 < f.at < outage.at
                  and f.target.split("#")[0] in ("payments", "case-actions")]
        assert any(f.at + f.down_for > outage.at for f in before)  # back only during it
