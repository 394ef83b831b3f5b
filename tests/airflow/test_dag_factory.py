"""The DAG file imports cleanly and builds one DAG per enabled, delegation-capable operator."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

try:  # Airflow 3.2+
    from airflow.dag_processing.dagbag import DagBag
except ImportError:  # Airflow 3.0 and 3.1
    from airflow.models.dagbag import DagBag  # type: ignore[no-redef]

import fiftyops_provider.management as fom
from fiftyops_provider.dag_factory.factory import build_operator_dag, load_operator_infos, register_dags
from fiftyops_provider.dag_factory.naming import DISPATCHER_DAG_ID, OPERATOR_TASK_ID, POOL_NAME, operator_dag_id

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def installed(db, mongod, monkeypatch):
    monkeypatch.setenv("FIFTYOPS_USER", "admin")
    monkeypatch.setenv(
        "AIRFLOW_CONN_FIFTYOPS_DEFAULT",
        f'{{"conn_type": "fiftyops", "host": "127.0.0.1", "port": {mongod.port}, "schema": "{db.name}",'
        ' "extra": {"directConnection": true}}',
    )
    for name in ("utils", "pipelines"):
        fom.upload_plugin(ROOT / "plugins_repo" / name)


def test_dagbag_imports_the_dag_file_without_errors(installed):
    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    expected = {DISPATCHER_DAG_ID} | {
        operator_dag_id(f"@fiftyops/utils/{op}") for op in ("count_samples", "compute_field", "sleep", "fail")
    }
    assert expected <= set(bag.dags)


@pytest.mark.parametrize("task_dag", [DISPATCHER_DAG_ID, operator_dag_id("@fiftyops/utils/sleep")])
def test_a_task_start_builds_only_its_own_dag(installed, monkeypatch, task_dag):
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", task_dag)  # what Airflow sets when a task parses the file
    namespace: dict = {}
    assert register_dags(namespace) == [task_dag]
    assert [name for name in namespace if name.startswith("fiftyops__")] == [task_dag]


def test_a_task_start_looks_its_connection_up_once(installed, monkeypatch):
    """The hook the task start's parse made is the one its ``execute`` gets, once."""
    from fiftyops_provider.hooks.fiftyops import FiftyOpsHook, task_hook

    lookups = []
    monkeypatch.setattr(FiftyOpsHook, "_validate_connection", staticmethod(lookups.append))
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", operator_dag_id("@fiftyops/utils/sleep"))
    register_dags({})
    parsed = task_hook(FiftyOpsHook.default_conn_name)
    assert len(lookups) == 1
    assert task_hook(FiftyOpsHook.default_conn_name) is not parsed and len(lookups) == 2


def test_the_operator_cache_is_rewritten_only_when_the_list_changes(installed, tmp_path, monkeypatch):
    monkeypatch.setenv("FIFTYOPS_HOME", str(tmp_path))
    cache = tmp_path / "dag_factory_operators.json"
    load_operator_infos()
    os.utime(cache, (0, 0))
    load_operator_infos()
    assert cache.stat().st_mtime == 0  # the same list: not written again
    fom.set_plugin_operator_enabled("@fiftyops/utils", "fail", enabled=False)
    load_operator_infos()
    assert cache.stat().st_mtime > 0
    assert "@fiftyops/utils/fail" not in cache.read_text() and "@fiftyops/utils/sleep" in cache.read_text()


def test_operator_config_maps_to_airflow(installed, monkeypatch):
    monkeypatch.setenv("AIRFLOW__FIFTYOPS__HEARTBEAT_INTERVAL", "2.5")
    info = next(i for i in load_operator_infos() if i.uri == "@fiftyops/utils/compute_field")
    dag = build_operator_dag(info)
    task = dag.task_dict[OPERATOR_TASK_ID]
    assert dag.dag_display_name == "Compute a field" and "fiftyops" in dag.tags and "@fiftyops/utils" in dag.tags
    assert task.retries == 2  # on_reset="rerun", max_attempts=3
    assert task.pool == POOL_NAME
    assert task.heartbeat_interval == 2.5  # [fiftyops] heartbeat_interval
    assert task.execution_timeout.total_seconds() > 3600  # a backstop behind the executor's own timeout
    field = dag.params.get_param("field").schema
    assert field["title"] == "Field to write" and field["type"] == ["null", "string"]  # the Trigger form
    assert dag.params.get_param("source_field").value == "filepath"
    assert {"operation_id", "rerun_of", "dataset"} <= set(dag.params)


def test_disabling_an_operator_removes_its_dag_on_the_next_parse(installed):
    fom.set_plugin_operator_enabled("@fiftyops/utils", "fail", enabled=False)
    assert operator_dag_id("@fiftyops/utils/fail") not in DagBag(dag_folder=str(ROOT / "dags")).dags


def test_an_unreachable_database_keeps_the_last_known_dags(installed, monkeypatch):
    known = {i.uri for i in load_operator_infos()}
    monkeypatch.setenv(
        "AIRFLOW_CONN_FIFTYOPS_DEFAULT",
        '{"conn_type": "fiftyops", "host": "127.0.0.1", "port": 1, "schema": "x",'
        ' "extra": {"serverSelectionTimeoutMS": 300}}',
    )
    assert {i.uri for i in load_operator_infos()} == known


def test_bad_plugins_are_skipped_and_reported_as_an_import_error_while_the_other_dags_load(installed, db, tmp_path):
    """Plugins installed before the install-time name checks, or with a config Airflow refuses:
    their operators get no DAG, the DAG file reports each one, every other DAG is built."""
    from tests.plugins.conftest import write_plugin

    fom.upload_plugin(write_plugin(tmp_path / "x", name="@a/x", operators=("y__z",)))
    plugins = db.fiftyops_plugins
    utils = plugins.find_one({"_id": "@fiftyops/utils"})
    long_name = "@org/" + "p" * 300
    colliding = {**plugins.find_one({"_id": "@a/x"}), "_id": "@a/x__y"}
    colliding["operators"] = {"z": colliding["operators"]["y__z"]}
    broken = {**utils, "_id": "@broken/config"}
    broken["operators"] = {"sleep": {**utils["operators"]["sleep"], "config": {"execution_timeout": "soon"}}}
    plugins.insert_many([{**utils, "_id": long_name}, colliding, broken])

    bag = DagBag(dag_folder=str(ROOT / "dags"))

    assert DISPATCHER_DAG_ID in bag.dags and operator_dag_id("@fiftyops/utils/sleep") in bag.dags
    assert operator_dag_id("@a/x/y__z") in bag.dags
    [error] = bag.import_errors.values()
    assert "FiftyOps skipped 6 plugin operator(s)" in error  # utils' 4 under the long name, the collision, broken
    assert "characters long (Airflow allows 250)" in error and long_name[:40] in error
    assert "operator @a/x__y/z and operator @a/x/y__z would both be the Airflow DAG fiftyops__a_x__y__z" in error
    assert "operator @broken/config/sleep of plugin @broken/config: TypeError" in error
    assert not [dag_id for dag_id in bag.dags if "broken" in dag_id or len(dag_id) > 250]
