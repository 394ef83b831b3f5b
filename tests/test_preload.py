"""Preloading the provider in Airflow's processes (``fiftyops_provider.preload``): the task
processes a LocalExecutor or Celery worker forks start with the store and executor imported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from fiftyops_provider.stacks.standalone import LOCAL_SETTINGS, write_local_settings

PROBE = (
    "import sys, airflow; "
    "print(sorted(m for m in ('pymongo', 'fiftyops_provider.execution.executor') if m in sys.modules))"
)


def imported_by_airflow(airflow_home: Path) -> str:
    """What an Airflow process has imported once ``import airflow`` (its initialisation) is done."""
    env = {**os.environ, "AIRFLOW_HOME": str(airflow_home)}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=120, check=True
    )
    return result.stdout.strip().splitlines()[-1]


def test_airflow_processes_start_with_the_provider_imported(tmp_path):
    assert imported_by_airflow(tmp_path / "plain") == "[]"
    write_local_settings(tmp_path / "preloaded")
    assert imported_by_airflow(tmp_path / "preloaded") == "['fiftyops_provider.execution.executor', 'pymongo']"


def test_a_deployments_own_local_settings_are_kept(tmp_path):
    own = tmp_path / "config" / "airflow_local_settings.py"
    own.parent.mkdir()
    own.write_text("POLICY = 'ours'\n")
    assert write_local_settings(tmp_path) == own
    assert own.read_text() == "POLICY = 'ours'\n"
    assert write_local_settings(tmp_path / "new").read_text() == LOCAL_SETTINGS


def test_preload_imports_nothing_of_airflow():
    """Airflow imports local settings while it initialises; importing Airflow from there would
    re-enter a half-initialised ``airflow`` package."""
    probe = "import sys, fiftyops_provider.preload; print([m for m in sys.modules if m.split('.')[0] == 'airflow'])"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"


def test_a_task_forking_worker_imports_the_airflow_side_once_airflow_has_initialised(tmp_path):
    """The LocalExecutor's module (and the Celery app's) is imported before the workers fork: the
    DAG factory, its operator and hook come with it, so a task start does not import them."""
    write_local_settings(tmp_path)
    factory = "fiftyops_provider.dag_factory.factory"
    probe = (
        f"import sys, airflow; print({factory!r} in sys.modules); "
        f"import airflow.executors.local_executor; print({factory!r} in sys.modules)"
    )
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120, check=True
    )
    assert result.stdout.split()[-2:] == ["False", "True"]
