"""A small client of Airflow 3's REST API v2 (JWT from ``/auth/token``): the dispatcher starts
operation runs with it; the CLI, benchmarks and tests drive Airflow with it."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import requests


class AirflowAPIError(RuntimeError):
    """An API call answered with an error; ``status`` is its HTTP status."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


DATABASE_BUSY_RETRIES = 6
"""How often a request answered 500 "Database error" is retried. On SQLite (``airflow
standalone``) a write can hit "database is locked" while the scheduler holds the write lock; the
API server rolled that transaction back, so sending the same request again is safe."""


def _database_busy(response: requests.Response) -> bool:
    return response.status_code == 500 and "Database error" in response.text


class AirflowAPI:
    def __init__(self, base_url: str, username: str, password: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self._credentials = {"username": username, "password": password}
        self._log_in()

    def _log_in(self) -> None:
        response = self.session.post(f"{self.base_url}/auth/token", json=self._credentials, timeout=self.timeout)
        self._check(response)
        self.session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    @staticmethod
    def _check(response: requests.Response) -> requests.Response:
        if response.status_code >= 400:
            raise AirflowAPIError(
                f"{response.request.method} {response.url}: {response.status_code} {response.text[:500]}",
                response.status_code,
            )
        return response

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        url = f"{self.base_url}/api/v2{path}"
        response = self.session.request(method, url, timeout=self.timeout, **kwargs)
        if response.status_code == 401:  # the token expired ([api_auth] jwt_expiration_time): log in again
            self._log_in()
            response = self.session.request(method, url, timeout=self.timeout, **kwargs)
        for attempt in range(DATABASE_BUSY_RETRIES):
            if not _database_busy(response):
                break
            time.sleep(0.25 * 2**attempt)
            response = self.session.request(method, url, timeout=self.timeout, **kwargs)
        self._check(response)
        return response.json() if response.content else None

    def list_dags(self) -> list[dict[str, Any]]:
        return self.request("GET", "/dags", params={"limit": 1000})["dags"]

    def import_errors(self) -> list[dict[str, Any]]:
        return self.request("GET", "/importErrors")["import_errors"]

    def unpause(self, dag_id: str) -> None:
        self.request("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def create_pool(self, name: str, slots: int, description: str = "") -> None:
        """Create the pool ``name``, or set an existing one to ``slots`` and ``description``.

        :param name: the pool's name.
        :param slots: how many task instances it lets run at once.
        :param description: shown in the Airflow UI.
        """
        pool = {"name": name, "slots": slots, "description": description, "include_deferred": False}
        try:
            self.request("POST", "/pools", json=pool)
        except AirflowAPIError as exc:
            if exc.status != 409:
                raise
            # Without an update_mask Airflow validates the whole pool: a body of only the slots
            # is refused (422 "Field required"), so the update sends every field.
            self.request("PATCH", f"/pools/{name}", json=pool)

    def pool(self, name: str) -> dict[str, Any]:
        """The pool ``name`` as Airflow shows it (``slots``, ``description``, ...).

        :param name: the pool's name.
        """
        return self.request("GET", f"/pools/{name}")

    def trigger(self, dag_id: str, conf: dict | None = None, run_id: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"logical_date": None, "conf": conf or {}}
        if run_id:
            body["dag_run_id"] = run_id
        return self.request("POST", f"/dags/{dag_id}/dagRuns", json=body)

    def start_run(self, dag_id: str, run_id: str, conf: dict) -> bool:
        """Create the DAG run ``run_id``; False if it already exists (a repeated dispatch)."""
        try:
            self.trigger(dag_id, conf, run_id)
        except AirflowAPIError as exc:
            if exc.status != 409:
                raise
            return False
        return True

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        return self.request("GET", f"/dags/{dag_id}/dagRuns", params={"order_by": "-run_after", "limit": 100})[
            "dag_runs"
        ]

    def task_instance(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> dict[str, Any]:
        suffix = f"/{map_index}" if map_index >= 0 else ""
        return self.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}{suffix}")

    def wait_for_ti(
        self, dag_id: str, run_id: str, task_id: str, states: Iterable[str], timeout: float = 120.0
    ) -> dict[str, Any]:
        wanted = set(states)
        deadline = time.monotonic() + timeout
        ti: dict[str, Any] = {}
        while time.monotonic() < deadline:
            try:
                ti = self.task_instance(dag_id, run_id, task_id)
            except AirflowAPIError:
                ti = {}
            if ti.get("state") in wanted:
                return ti
            time.sleep(0.5)
        raise AirflowAPIError(
            f"{dag_id}/{run_id}/{task_id} is {ti.get('state')!r}, not {sorted(wanted)}, after {timeout:.0f}s"
        )

    def set_ti_state(self, dag_id: str, run_id: str, task_id: str, new_state: str) -> Any:
        return self.request(
            "PATCH", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}", json={"new_state": new_state}
        )

    def clear_task(self, dag_id: str, run_id: str, task_id: str) -> Any:
        return self.request(
            "POST",
            f"/dags/{dag_id}/clearTaskInstances",
            json={
                "dry_run": False,
                "only_failed": False,
                "task_ids": [task_id],
                "dag_run_id": run_id,
                "reset_dag_runs": True,
            },
        )

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> str:
        data = self.request(
            "GET",
            f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}",
            params={"full_content": "true"},
            headers={"Accept": "application/json"},
        )
        content = data.get("content")
        if isinstance(content, list):
            return "\n".join(item.get("event", "") if isinstance(item, dict) else str(item) for item in content)
        return str(content)

    def extra_links(self, dag_id: str, run_id: str, task_id: str) -> dict[str, str]:
        return self.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/links")["extra_links"]
