"""A real ``airflow api-server`` with the provider's UI plugin, against the session's real mongod.

Only the api-server runs (no scheduler, no log servers), so these tests do not collide with an
``airflow standalone`` elsewhere. Users come from the simple auth manager: Airflow's ``admin``
(admin), ``olga`` (op), ``uma`` (user) and ``vic`` (viewer); tokens come from its ``/auth/token``.
Each test starts from empty FiftyOps collections and seeds what it needs through the domain API.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from bson import ObjectId
from pymongo.database import Database

from fiftyops_provider.access.users import UserStore
from fiftyops_provider.datasets.catalog import create_dataset
from fiftyops_provider.plugins.delegate import delegate
from fiftyops_provider.plugins.registry import PluginRegistry
from fiftyops_provider.stacks.local import airflow_connection
from fiftyops_provider.stacks.standalone import AirflowStandalone
from fiftyops_provider.store import DelegatedOperationDocument, DelegatedOperationService

ROOT = Path(__file__).resolve().parents[2]
UI_DATABASE = "fiftyops_ui"
AIRFLOW_USERS = {"admin": "admin", "olga": "op", "uma": "user", "vic": "viewer"}


class AirflowAPIServer(AirflowStandalone):
    """The api-server alone in place of standalone (after ``airflow db migrate``), with the
    execution API server ``AirflowStandalone`` starts beside it; both stopped by PID."""

    command = ("airflow", "api-server")

    def start(self, timeout: float = 180.0) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            subprocess.run(
                [str(Path(sys.executable).parent / "airflow"), "db", "migrate"],
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                check=True,
                timeout=timeout,
            )
        super().start(timeout)


@dataclass
class UIServer:
    server: AirflowAPIServer
    db: Database
    passwords: dict[str, str]

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def token(self, user: str) -> str:
        response = requests.post(
            f"{self.base_url}/auth/token", json={"username": user, "password": self.passwords[user]}, timeout=30
        )
        response.raise_for_status()
        return response.json()["access_token"]

    def client(self, user: str) -> requests.Session:
        """A session that calls the FiftyOps API as ``user``; ``.api(path)`` builds its URLs."""
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {self.token(user)}"
        return session

    def url(self, path: str) -> str:
        return f"{self.base_url}/fiftyops{path}"


@pytest.fixture(scope="session")
def ui_server(mongod, mongo_client, tmp_path_factory: pytest.TempPathFactory) -> Iterator[UIServer]:
    home = tmp_path_factory.mktemp("ui-airflow")
    env = {
        "AIRFLOW_CONN_FIFTYOPS_DEFAULT": airflow_connection(mongod.uri, UI_DATABASE),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{r}" for u, r in AIRFLOW_USERS.items()),
        "FIFTYOPS_HOME": str(home / "fiftyops"),
        # The FiftyOne runtime when the tests have one (tests marked `fiftyone` need it).
        "AIRFLOW__FIFTYOPS__FIFTYONE_PYTHON": os.environ.get("FIFTYOPS_TEST_FIFTYONE_PYTHON", ""),
    }
    server = AirflowAPIServer(home, ROOT / "dags", env=env)
    server.start()
    try:
        passwords = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())
        yield UIServer(server, mongo_client[UI_DATABASE], passwords)
    finally:
        server.stop()
        mongo_client.drop_database(UI_DATABASE)


@dataclass
class Seeded:
    """The store behind the api-server, and the domain objects the tests seed it with."""

    db: Database
    service: DelegatedOperationService
    registry: PluginRegistry
    dataset_id: str
    other_dataset_id: str

    def queue(
        self, operator: str, user: str = "admin", dataset_id: str | None = None, **params: Any
    ) -> DelegatedOperationDocument:
        """Queue ``@fiftyops/utils/<operator>`` as ``user`` the way the SDK does (validated)."""
        return delegate(
            f"@fiftyops/utils/{operator}", ObjectId(dataset_id or self.dataset_id), params, user=user, db=self.db
        )

    def run(self, doc: DelegatedOperationDocument) -> DelegatedOperationDocument:
        """Run one operation for real (child process, logs, outputs) and return it finished."""
        self.service.admit_scheduled_operations()
        self.service.execute_operation(doc.id, heartbeat_interval=0.5)
        return self.service.get(doc.id)


@pytest.fixture
def seeded(ui_server: UIServer, mongod, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Seeded:
    """Empty FiftyOps collections, the ``utils`` example plugin, datasets birds and cars. The
    Airflow admin is the FiftyOps bootstrap admin; olga (Airflow op) is a MEMBER with EDIT on
    birds; uma (Airflow user) a COLLABORATOR with VIEW on birds; vic is left to first sight."""
    db = ui_server.db
    for name in db.list_collection_names():
        if not name.startswith("system."):
            db[name].delete_many({})
    monkeypatch.setenv("FIFTYOPS_DATABASE_URI", mongod.uri)  # for the executor the tests run operations with
    monkeypatch.setenv("FIFTYOPS_DATABASE_NAME", UI_DATABASE)
    monkeypatch.setenv("FIFTYOPS_HOME", str(tmp_path / "fiftyops-home"))
    registry = PluginRegistry(db, cache_dir=tmp_path / "plugin-cache")
    registry.install(ROOT / "plugins_repo" / "utils", acting_user="admin")
    users = UserStore(db)
    users.create("olga", "MEMBER")
    users.create("uma", "COLLABORATOR")
    birds, cars = create_dataset(db, "birds").id, create_dataset(db, "cars").id
    users.grant("olga", birds, "EDIT")
    users.grant("uma", birds, "VIEW")
    return Seeded(db, DelegatedOperationService(db), registry, birds, cars)
