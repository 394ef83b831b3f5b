"""The REST client retries what SQLite's "database is locked" rolled back, and nothing else.

Served by a real HTTP server on loopback that answers like Airflow's API server does; the
client's behaviour against a real ``airflow standalone`` is covered by tests/airflow.
"""

from __future__ import annotations

import pytest

from fiftyops_provider.hooks import airflow_rest_client as airflow_api
from fiftyops_provider.hooks.airflow_rest_client import AirflowAPI, AirflowAPIError

LOCKED = {"detail": {"reason": "Database error", "statement": "hidden", "orig_error": "hidden"}}


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(airflow_api.time, "sleep", lambda seconds: None)


def test_a_locked_database_is_retried_until_the_trigger_lands(api_server):
    url, state = api_server
    state.answers = [(500, LOCKED), (500, LOCKED)]
    run = AirflowAPI(url, "admin", "pw").trigger("dag")
    assert run["dag_run_id"] == "r1"
    assert state.posts == 3


def test_other_server_errors_are_not_retried(api_server):
    url, state = api_server
    state.answers = [(500, {"detail": "boom"})]
    with pytest.raises(AirflowAPIError, match="500"):
        AirflowAPI(url, "admin", "pw").trigger("dag")
    assert state.posts == 1


def test_a_database_that_stays_locked_is_reported(api_server):
    url, state = api_server
    state.answers = [(500, LOCKED)] * (airflow_api.DATABASE_BUSY_RETRIES + 1)
    with pytest.raises(AirflowAPIError, match="Database error"):
        AirflowAPI(url, "admin", "pw").trigger("dag")
    assert state.posts == airflow_api.DATABASE_BUSY_RETRIES + 1


def test_an_expired_token_is_renewed_once(api_server):
    url, state = api_server
    state.answers = [(401, {"detail": "Token expired"})]
    assert AirflowAPI(url, "admin", "pw").trigger("dag")["dag_run_id"] == "r1"
    assert [path for path, _ in state.requests].count("/auth/token") == 2


def test_starting_a_run_that_exists_is_not_an_error(api_server):
    url, state = api_server
    state.answers = [(409, {"detail": "exists"})]
    api = AirflowAPI(url, "admin", "pw")
    assert api.start_run("dag", "run-1", {}) is False
    assert api.start_run("dag", "run-2", {"operation_id": "x"}) is True
    assert state.requests[-1] == (
        "/api/v2/dags/dag/dagRuns",
        {"logical_date": None, "conf": {"operation_id": "x"}, "dag_run_id": "run-2"},
    )
