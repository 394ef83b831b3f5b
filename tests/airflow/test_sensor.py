"""QueuedOperationSensor.poke against the real store: what the dispatcher hands to TriggerDagRun."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

import fiftyops_provider.management as fom
from fiftyops_provider import delegate
from fiftyops_provider.dag_factory.naming import dispatch_run_id, operator_dag_id
from fiftyops_provider.datasets.catalog import create_dataset
from fiftyops_provider.sensors.queued_operation import QueuedOperationSensor
from fiftyops_provider.store import ExecutionRunState as S

ROOT = Path(__file__).resolve().parents[2]
CONTEXT = {"ti": SimpleNamespace(dag_id="fiftyops__dispatcher", run_id="scheduled__1")}


@pytest.fixture
def store(db, mongod, service, monkeypatch):
    monkeypatch.setenv("FIFTYOPS_USER", "admin")
    monkeypatch.setenv(
        "AIRFLOW_CONN_FIFTYOPS_DEFAULT",
        f'{{"conn_type": "fiftyops", "host": "127.0.0.1", "port": {mongod.port}, "schema": "{db.name}"}}',
    )
    fom.upload_plugin(ROOT / "plugins_repo" / "utils")
    create_dataset(db, "d")
    return service


def test_poke_admits_within_quota_and_returns_trigger_kwargs(store):
    docs = [delegate("@fiftyops/utils/count_samples", dataset="d", user="admin") for _ in range(3)]
    sensor = QueuedOperationSensor(task_id="wait", quota=2, deferrable=False)
    result = sensor.poke(CONTEXT)
    assert result.is_done
    assert result.xcom_value == [
        {
            "trigger_dag_id": operator_dag_id("@fiftyops/utils/count_samples"),
            "trigger_run_id": dispatch_run_id(str(d.id), 0),
            "conf": {"operation_id": str(d.id)},
        }
        for d in docs[:2]
    ]
    assert store.get(docs[2].id).run_state is S.SCHEDULED  # quota 2 is full
    assert not sensor.poke(CONTEXT).is_done  # nothing new to pick up


def test_poke_fails_operations_of_disabled_operators(store):
    doc = delegate("@fiftyops/utils/sleep", dataset="d", user="admin")
    fom.set_plugin_operator_enabled("@fiftyops/utils", "sleep", enabled=False)
    assert not QueuedOperationSensor(task_id="wait", deferrable=False).poke(CONTEXT).is_done
    failed = store.get(doc.id)
    assert failed.run_state is S.FAILED and "not installed, disabled" in failed.result.error_message
