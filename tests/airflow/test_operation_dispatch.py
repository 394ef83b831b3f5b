"""OperationDispatchTrigger against the real mongod: each queued operation gets exactly one run.

The REST API here is a scripted server, so the failures a real Airflow cannot be made to produce
on cue (API down, a run that already exists) can be: tests/airflow/test_end_to_end.py runs the
same trigger in a real airflow standalone.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

import fiftyops_provider.management as fom
from fiftyops_provider import delegate
from fiftyops_provider.dag_factory.naming import dispatch_run_id, operator_dag_id
from fiftyops_provider.datasets.catalog import create_dataset
from fiftyops_provider.store import ExecutionRunState as S
from fiftyops_provider.triggers.operation_dispatch import OperationDispatchTrigger

ROOT = Path(__file__).resolve().parents[2]
SLEEP = "@fiftyops/utils/sleep"
RUNS_PATH = f"/api/v2/dags/{operator_dag_id(SLEEP)}/dagRuns"


@pytest.fixture
def store(db, service, monkeypatch):
    monkeypatch.setenv("FIFTYOPS_USER", "admin")
    fom.upload_plugin(ROOT / "plugins_repo" / "utils")
    create_dataset(db, "d")
    return service


API_CONN_ID = "fiftyops_test_api"


@pytest.fixture
def conns(store_conn_id, api_server, monkeypatch):
    """(store connection id, API connection id): the scripted API server, user admin/pw."""
    url, _state = api_server
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{API_CONN_ID.upper()}",
        json.dumps({"conn_type": "http", "host": url, "login": "admin", "password": "api-pw-91c2"}),
    )
    return store_conn_id, API_CONN_ID


def make(conns, **kwargs) -> OperationDispatchTrigger:
    store_conn_id, api_conn_id = conns
    return OperationDispatchTrigger(
        conn_id=store_conn_id, airflow_api_conn_id=api_conn_id, picker="airflow:test", **kwargs
    )


def run_trigger(trigger: OperationDispatchTrigger, until, timeout: float = 20.0, during=None) -> dict | None:
    """Run the trigger until ``until()`` holds (then cancel it, as the triggerer does when its task
    is cleared) or until it ends on its own; returns its event, if it fired one."""

    async def scenario():
        events = trigger.run()
        task = asyncio.create_task(events.__anext__())
        if during is not None:
            await asyncio.sleep(0.5)
            await asyncio.to_thread(during)
        deadline = time.monotonic() + timeout
        while not task.done() and not await asyncio.to_thread(until):
            assert time.monotonic() < deadline, "the dispatcher did not get there in time"
            await asyncio.sleep(0.1)
        if task.done():
            return task.result().payload
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await events.aclose()
        return None

    return asyncio.run(scenario())


def run_requests(state) -> list[tuple[str, dict]]:
    return [(path, body) for path, body in state.requests if path != "/auth/token"]


def test_each_queued_operation_gets_one_run_within_the_admission_limit(mongod, db, store, api_server, conns):
    _url, state = api_server
    docs = [delegate(SLEEP, dataset="d", params={"seconds": 0}, user="admin") for _ in range(3)]
    trigger = make(conns, quota=2)
    run_trigger(trigger, until=lambda: len(run_requests(state)) >= 2)
    time.sleep(0.5)  # nothing more may follow: the limit is full
    assert run_requests(state) == [
        (
            RUNS_PATH,
            {"logical_date": None, "conf": {"operation_id": str(d.id)}, "dag_run_id": dispatch_run_id(str(d.id), 0)},
        )
        for d in docs[:2]
    ]
    assert [store.get(d.id).run_state for d in docs] == [S.QUEUED, S.QUEUED, S.SCHEDULED]


def test_an_operation_queued_while_it_watches_is_started_within_a_second(mongod, db, store, api_server, conns):
    _url, state = api_server
    queued_at: list[float] = []

    def queue():
        queued_at.append(time.monotonic())
        delegate(SLEEP, dataset="d", params={"seconds": 0}, user="admin")

    run_trigger(make(conns, quota=4), until=lambda: run_requests(state), during=queue)
    assert time.monotonic() - queued_at[0] < 1.5


def test_when_the_api_fails_the_pick_up_is_released_and_retried(mongod, db, store, api_server, conns):
    _url, state = api_server
    state.answers = [(503, {"detail": "api server restarting"})]
    doc = delegate(SLEEP, dataset="d", params={"seconds": 0}, user="admin")
    trigger = make(conns, quota=4)
    run_trigger(trigger, until=lambda: len(run_requests(state)) >= 2)
    first, second = run_requests(state)
    assert first == second  # the same run id both times: a retry can never start two runs
    assert store.get(doc.id).dispatch["by"] == "airflow:test"


def test_a_run_that_already_exists_counts_as_started(mongod, db, store, api_server, conns):
    """A second dispatcher (triggerer handover) finding the run made: not an error, no retry."""
    _url, state = api_server
    state.answers = [(409, {"detail": "exists"})]
    delegate(SLEEP, dataset="d", params={"seconds": 0}, user="admin")
    event = run_trigger(make(conns, quota=4, run_for=2.0), until=lambda: False)
    assert event == {"status": "done", "started": 1}
    assert len(run_requests(state)) == 1


def test_it_ends_after_run_for_with_the_number_of_runs_it_started(mongod, db, store, api_server, conns):
    _url, _state = api_server
    for _ in range(2):
        delegate(SLEEP, dataset="d", params={"seconds": 0}, user="admin")
    assert run_trigger(make(conns, quota=4, run_for=2.0), until=lambda: False) == {
        "status": "done",
        "started": 2,
    }


def test_operations_of_a_disabled_operator_fail_instead_of_starting(mongod, db, store, api_server, conns):
    _url, state = api_server
    doc = delegate(SLEEP, dataset="d", params={"seconds": 0}, user="admin")
    fom.set_plugin_operator_enabled("@fiftyops/utils", "sleep", enabled=False)
    run_trigger(make(conns, quota=4), until=lambda: store.get(doc.id).run_state is S.FAILED)
    assert run_requests(state) == []


def test_the_serialized_trigger_holds_connection_ids_not_credentials(conns, api_server):
    """Trigger kwargs land in Airflow's trigger table: no URI, no password, and the ids resolve
    in the trigger (the dispatch above works from them alone)."""
    url, _state = api_server
    classpath, kwargs = make(conns, quota=4).serialize()

    assert kwargs["conn_id"] == conns[0] and kwargs["airflow_api_conn_id"] == conns[1]
    text = json.dumps(kwargs)
    assert "api-pw-91c2" not in text and url not in text and "mongodb://" not in text and "127.0.0.1" not in text
    assert OperationDispatchTrigger(**kwargs).serialize() == (classpath, kwargs)
