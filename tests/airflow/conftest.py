"""A real ``airflow standalone`` for the end-to-end tests, against the session's real mongod.

One standalone at a time (its log servers use fixed ports 8793/8794): module-scoped, so the
demo smoke test can start its own before or after. The example plugins
are installed and a dataset created before it starts, so the DAG factory sees the operators on
its first parse. Stopped by PID in teardown.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from pymongo.database import Database

from fiftyops_provider.dag_factory.naming import DISPATCHER_DAG_ID, POOL_NAME, operator_dag_id
from fiftyops_provider.datasets.catalog import create_dataset
from fiftyops_provider.hooks.airflow_rest_client import AirflowAPI
from fiftyops_provider.stacks.demo import install_example_plugins
from fiftyops_provider.stacks.standalone import AirflowStandalone
from fiftyops_provider.store import DelegatedOperationService

ROOT = Path(__file__).resolve().parents[2]
E2E_DATABASE = "fiftyops_e2e"
E2E_ADMIN = "admin"  # the same name as Airflow's simple-auth admin: UI-launched runs are theirs
E2E_DATASET = "quickstart"
E2E_SAMPLES = 120


@dataclass
class AirflowStack:
    standalone: AirflowStandalone
    api: AirflowAPI
    db: Database
    service: DelegatedOperationService
    home: Path


@contextmanager
def running_stack(
    mongod,
    mongo_client,
    home: Path,
    database: str,
    wanted_dags: set[str],
    extra_env: dict[str, str] | None = None,
    start_timeout: float = 180.0,
    prepare: Callable[[Database], None] | None = None,
) -> Iterator[AirflowStack]:
    """Example plugins and a dataset in ``database`` (and what ``prepare(db)`` adds, with the
    stack's FiftyOps settings in the environment), then airflow standalone on them."""
    db = mongo_client[database]
    mongo_client.drop_database(database)
    fiftyops_env = {
        "FIFTYOPS_DATABASE_URI": mongod.uri,
        "FIFTYOPS_DATABASE_NAME": database,
        "FIFTYOPS_HOME": str(home / "fiftyops"),
        "AIRFLOW_CONN_FIFTYOPS_DEFAULT": json.dumps(
            {
                "conn_type": "fiftyops",
                "host": "127.0.0.1",
                "port": mongod.port,
                "schema": database,
                "extra": {"directConnection": True},
            }
        ),
        **(extra_env or {}),
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in fiftyops_env.items():
            patch.setenv(key, value)
        install_example_plugins(db, acting_user=E2E_ADMIN)
        if prepare is not None:
            prepare(db)
    create_dataset(db, E2E_DATASET).add_samples([{"filepath": f"/data/{i:03d}.jpg"} for i in range(E2E_SAMPLES)])
    standalone = AirflowStandalone(home / "airflow", ROOT / "dags", env=fiftyops_env)
    started = time.monotonic()
    standalone.start(start_timeout)
    try:
        api = AirflowAPI(standalone.base_url, "admin", standalone.password)
        api.create_pool(POOL_NAME, 4, "FiftyOps execution quota")
        deadline = time.monotonic() + 120
        while not wanted_dags <= {d["dag_id"] for d in api.list_dags()}:
            assert not api.import_errors(), api.import_errors()
            assert time.monotonic() < deadline, "the FiftyOps DAGs did not appear"
            time.sleep(1)
        print(f"\nairflow standalone ready with the FiftyOps DAGs in {time.monotonic() - started:.1f}s")
        yield AirflowStack(standalone, api, db, DelegatedOperationService(db), home)
    finally:
        standalone.stop()
        mongo_client.drop_database(database)


@pytest.fixture(scope="module")
def airflow_stack(mongod, mongo_client, tmp_path_factory) -> Iterator[AirflowStack]:
    wanted = {DISPATCHER_DAG_ID, operator_dag_id("@fiftyops/utils/sleep")}
    with running_stack(mongod, mongo_client, tmp_path_factory.mktemp("e2e"), E2E_DATABASE, wanted) as stack:
        yield stack


def set_fiftyops_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, port: int, database: str) -> str:
    """An Airflow connection (from the environment) to the FiftyOps database on a local mongod;
    triggers are given its id, never a URI."""
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{conn_id.upper()}",
        json.dumps(
            {
                "conn_type": "fiftyops",
                "host": "127.0.0.1",
                "port": port,
                "schema": database,
                "extra": {"directConnection": True},
            }
        ),
    )
    return conn_id


@pytest.fixture
def store_conn_id(mongod, db: Database, monkeypatch: pytest.MonkeyPatch) -> str:
    """The id of a connection to this test's database (see ``set_fiftyops_connection``)."""
    return set_fiftyops_connection(monkeypatch, "fiftyops_test_store", mongod.port, db.name)
