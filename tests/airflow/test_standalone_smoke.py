"""Smoke test of the product harness: ``AirflowStandalone`` starts a real ``airflow standalone`` on
the repo's ``dags/`` folder, ``AirflowAPI`` logs in, and the FiftyOps dispatcher DAG is parsed
without import errors; then everything stops, by PID."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from fiftyops_provider.airflow_api import AirflowAPI
from fiftyops_provider.naming import DISPATCHER_DAG_ID, POOL_NAME
from fiftyops_provider.standalone import AirflowStandalone

ROOT = Path(__file__).resolve().parents[2]
SMOKE_DATABASE = "fiftyops_smoke"


@pytest.mark.airflow
def test_standalone_serves_the_dispatcher_dag(mongod, mongo_client, tmp_path):
    mongo_client.drop_database(SMOKE_DATABASE)
    env = {
        "FIFTYOPS_DATABASE_URI": mongod.uri,
        "FIFTYOPS_DATABASE_NAME": SMOKE_DATABASE,
        "FIFTYOPS_HOME": str(tmp_path / "fiftyops"),
        "AIRFLOW_CONN_FIFTYOPS_DEFAULT": json.dumps({
            "conn_type": "fiftyops", "host": "127.0.0.1", "port": mongod.port, "schema": SMOKE_DATABASE,
            "extra": {"directConnection": True},
        }),
    }
    standalone = AirflowStandalone(tmp_path / "airflow", ROOT / "dags", env=env)
    started = time.monotonic()
    standalone.start(timeout=120)
    pid = standalone.process.pid
    try:
        healthy = time.monotonic() - started
        api = AirflowAPI(standalone.base_url, "admin", standalone.password)
        api.create_pool(POOL_NAME, 4, "FiftyOps execution quota")
        deadline = time.monotonic() + 90
        while DISPATCHER_DAG_ID not in {d["dag_id"] for d in api.list_dags()}:
            assert not api.import_errors(), api.import_errors()
            assert time.monotonic() < deadline, "the dispatcher DAG did not appear within 90 s"
            time.sleep(1)
        parsed = time.monotonic() - started
        assert api.import_errors() == []
        assert api.request("GET", f"/pools/{POOL_NAME}")["slots"] == 4
        print(f"\nairflow standalone healthy after {healthy:.1f}s, dispatcher DAG listed after {parsed:.1f}s")
    finally:
        stopping = time.monotonic()
        standalone.stop()
        print(f"stopped in {time.monotonic() - stopping:.1f}s")
        mongo_client.drop_database(SMOKE_DATABASE)
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)  # nothing of its process group is left
