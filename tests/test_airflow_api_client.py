"""The REST client retries what SQLite's "database is locked" rolled back, and nothing else.

Served by a real HTTP server on loopback that answers like Airflow's API server does; the
client's behaviour against a real ``airflow standalone`` is covered by tests/airflow.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest

from fiftyops_provider import airflow_api
from fiftyops_provider.airflow_api import AirflowAPI, AirflowAPIError

LOCKED = {"detail": {"reason": "Database error", "statement": "hidden", "orig_error": "hidden"}}


class FakeServerState:
    def __init__(self, answers: list[tuple[int, dict]]) -> None:
        self.answers = answers
        self.posts = 0


@pytest.fixture
def server() -> Iterator[tuple[str, FakeServerState]]:
    state = FakeServerState([])

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def reply(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.path == "/auth/token":
                return self.reply(201, {"access_token": "t"})
            state.posts += 1
            status, body = state.answers.pop(0) if state.answers else (200, {"dag_run_id": "r1"})
            self.reply(status, body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", state
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(airflow_api.time, "sleep", lambda seconds: None)


def test_a_locked_database_is_retried_until_the_trigger_lands(server):
    url, state = server
    state.answers = [(500, LOCKED), (500, LOCKED)]
    run = AirflowAPI(url, "admin", "pw").trigger("dag")
    assert run["dag_run_id"] == "r1"
    assert state.posts == 3


def test_other_server_errors_are_not_retried(server):
    url, state = server
    state.answers = [(500, {"detail": "boom"})]
    with pytest.raises(AirflowAPIError, match="500"):
        AirflowAPI(url, "admin", "pw").trigger("dag")
    assert state.posts == 1


def test_a_database_that_stays_locked_is_reported(server):
    url, state = server
    state.answers = [(500, LOCKED)] * (airflow_api.DATABASE_BUSY_RETRIES + 1)
    with pytest.raises(AirflowAPIError, match="Database error"):
        AirflowAPI(url, "admin", "pw").trigger("dag")
    assert state.posts == airflow_api.DATABASE_BUSY_RETRIES + 1
