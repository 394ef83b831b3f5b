"""docker-compose.airflow.yml is valid (``docker-compose config``) and has what the docs promise.

No container engine runs here, so this is a schema check plus assertions on the resolved
configuration, not a run of the stack.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_SERVICES = {"airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                    "airflow-triggerer", "airflow-worker"}
LONG_RUNNING = AIRFLOW_SERVICES - {"airflow-init"} | {"postgres", "redis", "mongo"}


@pytest.fixture(scope="module")
def compose() -> dict:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail("docker-compose is not installed: run `apt-get install -y docker-compose` (scripts/test.sh does).")
    result = subprocess.run([binary, "-f", str(ROOT / "docker-compose.airflow.yml"), "config"],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_services(compose):
    assert set(compose["services"]) == AIRFLOW_SERVICES | {"postgres", "redis", "mongo", "mongo-init"}


def test_airflow_uses_celery_redis_and_postgres(compose):
    for name in AIRFLOW_SERVICES:
        env = compose["services"][name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:"), name
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://"), name


def test_fiftyops_connection_database_and_dags(compose):
    for name in AIRFLOW_SERVICES:
        service = compose["services"][name]
        env = service["environment"]
        assert env["FIFTYOPS_DATABASE_URI"] == "mongodb://mongo:27017/?replicaSet=rs0"
        conn = json.loads(env["AIRFLOW_CONN_FIFTYOPS_DEFAULT"])
        assert (conn["conn_type"], conn["host"], conn["extra"]["replicaSet"]) == ("fiftyops", "mongo", "rs0")
        mounts = {v.split(":")[1] if isinstance(v, str) else v["target"]: v for v in service["volumes"]}
        assert "/opt/airflow/dags" in mounts, name
        assert service["build"]["dockerfile"] == "deploy/airflow.Dockerfile"


def test_init_creates_the_pool_and_mongo_is_a_replica_set(compose):
    init = " ".join(compose["services"]["airflow-init"]["command"])
    assert "airflow db migrate" in init and "airflow pools set fiftyops" in init
    assert "--replSet" in compose["services"]["mongo"]["command"]
    assert "rs.initiate" in " ".join(compose["services"]["mongo-init"]["command"])


def test_long_running_services_have_health_checks(compose):
    for name in LONG_RUNNING:
        assert compose["services"][name].get("healthcheck", {}).get("test"), name


def test_airflow_waits_for_its_dependencies(compose):
    for name in AIRFLOW_SERVICES - {"airflow-init"}:
        depends = compose["services"][name]["depends_on"]
        assert depends["airflow-init"]["condition"] == "service_completed_successfully"
        assert depends["mongo-init"]["condition"] == "service_completed_successfully"
        assert depends["postgres"]["condition"] == "service_healthy"


def test_dockerfile_installs_this_provider_with_the_pinned_set():
    text = (ROOT / "deploy" / "airflow.Dockerfile").read_text()
    assert "FROM apache/airflow:3.3.2" in text and "-c /opt/fiftyops/constraints.txt" in text
