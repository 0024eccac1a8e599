"""The chaos run's fault plan: enough kills, everyone (the relay too), never a kill of
an instance that is still down, both outages, and the same plan for the same seed."""

import itertools

from chaos.faults import plan
from chaos.fleet import CHAOS_INSTANCES

INSTANCES = [f"{c}#{n}" for c, count in CHAOS_INSTANCES.items() for n in range(1, count + 1)]


def test_same_seed_same_plan_and_another_seed_another():
    assert plan(7, INSTANCES, 120, 24) == plan(7, INSTANCES, 120, 24)
    assert plan(7, INSTANCES, 120, 24) != plan(8, INSTANCES, 120, 24)


def test_every_instance_killed_and_each_back_before_its_next_kill():
    faults = plan(3, INSTANCES, 120, 24)
    kills = [f for f in faults if f.kind == "kill"]
    assert len(kills) >= 24
    assert {k.target for k in kills} == set(INSTANCES)
    for target in INSTANCES:
        own = sorted((k for k in kills if k.target == target), key=lambda k: k.at)
        assert all(a.at + a.down_for < b.at for a, b in itertools.pairwise(own))


def test_one_broker_and_one_database_restart_inside_the_window_unless_disabled():
    faults = plan(3, INSTANCES, 120, 24)
    assert [f.kind for f in faults].count("kafka") == 1
    assert [f.kind for f in faults].count("postgres") == 1
    assert all(0 < f.at < 120 for f in faults)
    assert {f.kind for f in plan(3, INSTANCES, 120, 24, restarts=False)} == {"kill"}


def test_a_shared_group_member_is_killed_just_before_the_database_outage():
    faults = plan(5, INSTANCES, 120, 24)
    outage = next(f for f in faults if f.kind == "postgres")
    before = [f for f in faults if f.kind == "kill" and outage.at - 5 < f.at < outage.at
              and f.target.split("#")[0] in ("payments", "case-actions")]
    assert any(f.at + f.down_for > outage.at for f in before)  # back only during it
