"""The operator task's failure callback against the real store: whatever way the Airflow task
died, its operation does not stay running or waiting (the end-to-end tests kill real workers)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from fiftyops_provider.dag_factory.naming import dispatch_run_id
from fiftyops_provider.execution.task_attempts import TaskAttempt
from fiftyops_provider.operators.execute_operation import mark_operation_failed
from fiftyops_provider.store import ExecutionRunState as S

TI = SimpleNamespace(
    dag_id="fiftyops__p__op", run_id="fiftyops__x__attempt1", task_id="run_operation", map_index=-1, try_number=1
)
CLAIM = TaskAttempt.for_airflow(TI.dag_id, TI.run_id, TI.task_id, TI.map_index, TI.try_number).claim_token


@pytest.fixture
def store(db, mongod, service, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_FIFTYOPS_DEFAULT",
        f'{{"conn_type": "fiftyops", "host": "127.0.0.1", "port": {mongod.port}, "schema": "{db.name}"}}',
    )
    return service


def context(operation_id: str, ti: SimpleNamespace = TI) -> dict:
    return {
        "task": SimpleNamespace(fiftyops_conn_id="fiftyops_default"),
        "ti": ti,
        "params": {"operation_id": operation_id},
        "exception": "worker lost",
    }


def test_an_operation_the_dead_try_was_running_is_failed_with_the_reason(store):
    doc = store.queue_operation("@o/p/op", initial_state="queued")
    store.set_running(doc.id, claim_token=CLAIM)
    mark_operation_failed(context(str(doc.id)))
    failed = store.get(doc.id)
    assert failed.run_state is S.FAILED and "worker lost" in failed.result.error_message


def test_an_operation_still_waiting_for_a_try_that_died_before_claiming_it_is_failed(store):
    """Its run will not start again, and a later dispatch would find the run id taken: without
    this it would wait in "queued" for ever."""
    doc = store.queue_operation("@o/p/op", initial_state="queued")
    store.pick_up_queued_operations("airflow:fiftyops__dispatcher:run1")
    its_run = SimpleNamespace(**{**vars(TI), "run_id": dispatch_run_id(str(doc.id), 0)})
    mark_operation_failed(context(str(doc.id), its_run))
    failed = store.get(doc.id)
    assert failed.run_state is S.FAILED and "ended without finishing it: worker lost" in failed.result.error_message


def test_a_waiting_operation_dispatched_to_another_run_is_left_alone(store):
    """A run triggered by hand with someone's ``operation_id`` cannot fail that operation."""
    doc = store.queue_operation("@o/p/op", initial_state="queued")
    store.pick_up_queued_operations("airflow:fiftyops__dispatcher:run1")
    mark_operation_failed(context(str(doc.id)))
    assert store.get(doc.id).run_state is S.QUEUED


def test_an_operation_another_run_claimed_is_left_alone(store):
    doc = store.queue_operation("@o/p/op", initial_state="queued")
    store.set_running(doc.id, claim_token="airflow:other-run#try1")
    mark_operation_failed(context(str(doc.id)))
    assert store.get(doc.id).run_state is S.RUNNING
