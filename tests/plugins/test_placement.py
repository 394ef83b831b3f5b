"""Operator placement: where Airflow runs an operator's operations (Celery ``queue``, ``pool``,
``priority_weight``, ``executor_config``), from its config, with an admin's override on top."""

from __future__ import annotations

import pytest

from fiftyops_provider.dag_factory.factory import build_operator_dag
from fiftyops_provider.dag_factory.naming import OPERATOR_TASK_ID, POOL_NAME
from fiftyops_provider.plugins.errors import InvalidPlugin, PermissionDenied
from fiftyops_provider.plugins.operator import OperatorConfig
from tests.plugins.conftest import write_plugin

PLACED = """
from fiftyops_provider.plugins import Operator, OperatorConfig


class Placed(Operator):
    @property
    def config(self):
        return OperatorConfig(name="placed", allow_delegated_execution=True, queue="gpu", priority_weight=3,
                              executor_config={"pod_override": {"spec": {"nodeSelector": {"gpu": "true"}}}})

    def execute(self, ctx):
        return {}


class Plain(Operator):
    @property
    def config(self):
        return OperatorConfig(name="plain", allow_delegated_execution=True)

    def execute(self, ctx):
        return {}


def register(p):
    p.register(Placed)
    p.register(Plain)
"""


@pytest.fixture
def installed(registry, tmp_path):
    plugin = write_plugin(tmp_path / "placed", "@test/placed", operators=("placed", "plain"), entry_code=PLACED)
    registry.install(plugin)
    return registry


def placement(registry, operator: str) -> dict:
    return next(i for i in registry.list_operators() if i.uri == f"@test/placed/{operator}").placement


def task_of(registry, operator: str):
    info = next(i for i in registry.list_operators() if i.uri == f"@test/placed/{operator}")
    return build_operator_dag(info).task_dict[OPERATOR_TASK_ID]


def test_the_config_places_the_task(installed):
    task = task_of(installed, "placed")
    assert (task.queue, task.pool, task.priority_weight) == ("gpu", POOL_NAME, 3)
    assert task.executor_config == {"pod_override": {"spec": {"nodeSelector": {"gpu": "true"}}}}
    plain = task_of(installed, "plain")
    assert (plain.queue, plain.pool, plain.priority_weight) == ("default", POOL_NAME, 1)


def test_an_admin_override_wins_is_kept_across_upgrades_and_can_be_dropped(installed, tmp_path):
    installed.set_operator_placement("@test/placed", "plain", {"queue": "gpu", "pool": "big", "priority_weight": 9})
    task = task_of(installed, "plain")
    assert (task.queue, task.pool, task.priority_weight) == ("gpu", "big", 9)
    installed.set_operator_placement("@test/placed", "placed", {"queue": "cpu"})
    assert placement(installed, "placed")["queue"] == "cpu" and placement(installed, "placed")["priority_weight"] == 3

    upgrade = write_plugin(
        tmp_path / "v2", "@test/placed", operators=("placed", "plain"), version="2", entry_code=PLACED
    )
    installed.install(upgrade, overwrite=True)
    assert placement(installed, "plain") == {"queue": "gpu", "pool": "big", "priority_weight": 9}

    installed.set_operator_placement("@test/placed", "plain", {})
    assert placement(installed, "plain") == {}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"queue": ""}, "queue must be a non-empty name"),
        ({"pool": 3}, "pool must be a non-empty name"),
        ({"priority_weight": "high"}, "priority_weight must be an integer"),
        ({"priority_weight": True}, "priority_weight must be an integer"),
        ({"executor_config": "pod"}, "executor_config must be a dict"),
        ({"cpus": 4}, "Unknown placement field"),
        ("gpu", "A placement is a dict"),
    ],
)
def test_bad_placement_is_refused_and_changes_nothing(installed, bad, message):
    before = installed.collection.find_one({"_id": "@test/placed"})
    with pytest.raises(InvalidPlugin, match=message):
        installed.set_operator_placement("@test/placed", "plain", bad)
    assert installed.collection.find_one({"_id": "@test/placed"}) == before


def test_only_admins_place_operators(installed):
    installed.users.create("mo", "MEMBER")
    with pytest.raises(PermissionDenied):
        installed.set_operator_placement("@test/placed", "plain", {"queue": "gpu"}, acting_user="mo")


def test_a_config_with_a_bad_placement_is_refused():
    with pytest.raises(ValueError, match="priority_weight must be an integer"):
        OperatorConfig(name="x", priority_weight=1.5)
