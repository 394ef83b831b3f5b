"""An Airflow account removed from the auth manager, against real api-servers: its unexpired
token no longer works, and its FiftyOps record (role and grants) is gone, so an account created
later with the same name starts fresh.

The simple auth manager reads its accounts from the configuration, so removing one means
restarting the api-server without it; tokens survive the restart (the same JWT secret), which is
exactly how a removed user's token outlived them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from fiftyops_provider.access.users import UserStore
from fiftyops_provider.datasets.catalog import create_dataset
from fiftyops_provider.stacks.local import airflow_connection
from tests.ui.conftest import ROOT, AirflowAPIServer

pytestmark = pytest.mark.airflow
DATABASE = "fiftyops_accounts"


class Servers:
    """Starts api-servers one after the other on one Airflow home, with the accounts asked for."""

    def __init__(self, home: Path, mongod) -> None:
        self.home = home
        self.mongod = mongod
        self.current: AirflowAPIServer | None = None

    def start(self, accounts: dict[str, str]) -> AirflowAPIServer:
        self.stop()
        env = {
            "AIRFLOW_CONN_FIFTYOPS_DEFAULT": airflow_connection(self.mongod.uri, DATABASE),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{r}" for u, r in accounts.items()),
            "FIFTYOPS_HOME": str(self.home / "fiftyops"),
        }
        self.current = AirflowAPIServer(self.home, ROOT / "dags", env=env)
        self.current.start()
        return self.current

    def token(self, user: str) -> str:
        passwords = json.loads((self.home / "simple_auth_manager_passwords.json.generated").read_text())
        response = requests.post(
            f"{self.current.base_url}/auth/token", json={"username": user, "password": passwords[user]}, timeout=30
        )
        response.raise_for_status()
        return response.json()["access_token"]

    def me(self, token: str) -> requests.Response:
        return requests.get(
            f"{self.current.base_url}/fiftyops/api/me", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )

    def stop(self) -> None:
        if self.current is not None:
            self.current.stop()
            self.current = None


@pytest.fixture
def servers(mongod, mongo_client, tmp_path_factory) -> Iterator[Servers]:
    servers = Servers(tmp_path_factory.mktemp("accounts-airflow"), mongod)
    try:
        yield servers
    finally:
        servers.stop()
        mongo_client.drop_database(DATABASE)


def test_a_removed_account_s_token_stops_working_and_its_record_is_retired(servers, mongo_client):
    users = UserStore(mongo_client[DATABASE])
    birds = create_dataset(mongo_client[DATABASE], "birds").id
    servers.start({"admin": "admin", "rita": "op"})
    rita_token = servers.token("rita")
    assert servers.me(rita_token).json()["role"] == "MEMBER"
    users.grant("rita", birds, "EDIT")

    servers.start({"admin": "admin"})  # rita removed from Airflow
    assert servers.me(servers.token("admin")).status_code == 200
    assert users.get("rita") is None  # retired when the api-server saw she was gone
    refused = servers.me(rita_token)
    assert refused.status_code == 401 and "rita is no longer an Airflow user" in refused.json()["detail"]
    assert users.get("rita") is None  # her token did not bring the record back
