"""Airflow discovers the provider: connection type, hook, link, trigger, config section."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture
def airflow_env(tmp_path):
    return {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}


def airflow(env, *args: str) -> str:
    binary = Path(sys.executable).parent / "airflow"
    result = subprocess.run([str(binary), *args], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_connection_type_hook_and_form(airflow_env):
    out = airflow(airflow_env, "providers", "hooks")
    line = next(line for line in out.splitlines() if line.startswith("fiftyops "))
    assert "fiftyops_provider.hooks.fiftyops.FiftyOpsHook" in line and "fiftyops-airflow-provider" in line


def test_links_triggers_and_config(airflow_env):
    assert "fiftyops_provider.links.FiftyOpsRunLink" in airflow(airflow_env, "providers", "links")
    assert "fiftyops_provider.triggers.queued_operation" in airflow(airflow_env, "providers", "triggers")
    assert airflow(airflow_env, "config", "get-value", "fiftyops", "execution_quota").strip().endswith("4")


def test_connection_form_fields_are_declarative():
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    widgets = manager.connection_form_widgets
    assert {f"extra__fiftyops__{name}" for name in ("replicaSet", "tls", "allow_insecure", "directConnection")} <= set(
        widgets
    )
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    hook = ProvidersManagerTaskRuntime().hooks["fiftyops"]
    assert hook.hook_class_name == "fiftyops_provider.hooks.fiftyops.FiftyOpsHook"
    assert "fiftyops_provider.links.FiftyOpsRunLink" in manager.extra_links_class_names
    assert manager.field_behaviours["fiftyops"]["relabeling"]["schema"] == "Database"
