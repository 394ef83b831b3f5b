"""docker-compose.airflow.yml is valid and resolves to the stack docs/deploy.md describes.

No container engine runs here, so this validates the file with ``docker-compose config`` (a schema
check plus variable interpolation) and asserts on the resolved configuration; it does not start
the stack. Each check is something a user following docs/deploy.md would hit if it were wrong.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.airflow.yml"
DOCKERFILE = ROOT / "deploy" / "airflow.Dockerfile"

AIRFLOW_SERVICES = {
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
}
AIRFLOW_LONG_RUNNING = AIRFLOW_SERVICES - {"airflow-init"}
LONG_RUNNING = AIRFLOW_LONG_RUNNING | {"postgres", "redis", "mongo"}
ALL_SERVICES = AIRFLOW_SERVICES | {"postgres", "redis", "mongo", "mongo-init"}

EXPECTED_CONNECTION = {
    "conn_type": "fiftyops",
    "host": "mongo",
    "port": 27017,
    "schema": "fiftyops",
    "extra": {"replicaSet": "rs0"},
}
# Variables the compose file interpolates: unset them so the defaults are what is checked.
COMPOSE_VARIABLES = (
    "AIRFLOW_JWT_SECRET",
    "AIRFLOW_SECRET_KEY",
    "AIRFLOW_FERNET_KEY",
    "AIRFLOW_ADMIN_PASSWORD",
    "FIFTYOPS_EXECUTION_QUOTA",
)


def resolve(**variables: str) -> dict:
    """The configuration ``docker-compose config`` resolves, with ``variables`` in its environment."""
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail(
            "docker-compose is not installed; this test validates docker-compose.airflow.yml with it. "
            "Install it with `apt-get update && apt-get install -y docker-compose` "
            "(or run scripts/ensure_system_packages.sh as root)."
        )
    env = {k: v for k, v in os.environ.items() if k not in COMPOSE_VARIABLES and not k.startswith("COMPOSE_")}
    env.update(variables)
    # Compose v2 prints JSON on request; Debian's docker-compose 1.29 has no --format (it prints its
    # usage and exits 0 when given one), so ask `config --help` first and parse YAML otherwise.
    as_json = supports_json_format(binary)
    command = [binary, "-f", str(COMPOSE_FILE), "config", *(["--format", "json"] if as_json else [])]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert result.returncode == 0, f"docker-compose config rejected {COMPOSE_FILE.name}:\n{result.stderr}"
    return json.loads(result.stdout) if as_json else yaml.safe_load(result.stdout)


@functools.cache
def supports_json_format(binary: str) -> bool:
    result = subprocess.run([binary, "config", "--help"], capture_output=True, text=True, timeout=60)
    return "--format" in result.stdout


@pytest.fixture(scope="module")
def services() -> dict:
    return resolve()["services"]


@pytest.fixture(scope="module")
def chosen() -> dict:
    """The services with every variable the docs tell users to set, set."""
    return resolve(
        AIRFLOW_JWT_SECRET="s3cret-from-env",
        AIRFLOW_SECRET_KEY="key-from-env",
        AIRFLOW_FERNET_KEY="fernet-from-env",
        AIRFLOW_ADMIN_PASSWORD="pw-from-env",
        FIFTYOPS_EXECUTION_QUOTA="7",
    )["services"]


def words(value) -> list[str]:
    """A command/entrypoint as a list (compose keeps strings as written, v2 may split them)."""
    if value is None:
        return []
    return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]


def mounts(service: dict) -> dict[str, tuple[str, bool]]:
    """target -> (source, read_only), from the short (v1) or long (v2) volume syntax."""
    found = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, target, *mode = volume.split(":")
            found[target] = (source, "ro" in mode)
        else:
            found[volume["target"]] = (volume.get("source"), bool(volume.get("read_only")))
    return found


def test_the_documented_services(services):
    assert set(services) == ALL_SERVICES


def test_airflow_runs_celery_on_redis_with_postgres_metadata(services):
    for name in AIRFLOW_SERVICES:
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://redis:6379/0", name
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == "postgresql+psycopg2://airflow:airflow@postgres/airflow", (
            name
        )
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+postgresql+psycopg2://airflow:airflow@postgres/airflow", (
            name
        )
        assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False", name
    assert services["airflow-worker"]["command"] in ("celery worker", ["celery", "worker"])
    postgres_env = services["postgres"]["environment"]
    assert (postgres_env["POSTGRES_USER"], postgres_env["POSTGRES_PASSWORD"], postgres_env["POSTGRES_DB"]) == (
        "airflow",
        "airflow",
        "airflow",
    )
    assert services["postgres"]["image"] == "postgres:16"


def test_airflow_services_share_image_secret_and_execution_api(services):
    """Workers run the same code as the scheduler and can authenticate to the execution API."""
    images = {services[name]["image"] for name in AIRFLOW_SERVICES}
    assert len(images) == 1
    secrets = {services[name]["environment"]["AIRFLOW__API_AUTH__JWT_SECRET"] for name in AIRFLOW_SERVICES}
    assert len(secrets) == 1 and secrets != {""}
    for name in AIRFLOW_SERVICES:
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/", name
        assert env["AIRFLOW__API__BASE_URL"] == "http://localhost:8080", name
        assert env["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/airflow/dags", name
    ports = services["airflow-apiserver"]["ports"]
    published = {
        (str(p["published"]), str(p["target"])) if isinstance(p, dict) else tuple(p.split(":")[-2:]) for p in ports
    }
    assert ("8080", "8080") in published
    assert words(services["airflow-apiserver"]["command"]) == ["api-server"]


def test_jwt_secret_comes_from_the_environment(chosen):
    for name in AIRFLOW_SERVICES:
        assert chosen[name]["environment"]["AIRFLOW__API_AUTH__JWT_SECRET"] == "s3cret-from-env", name


def test_secret_and_fernet_keys_are_shared_and_come_from_the_environment(services, chosen):
    """Without one secret_key the api-server cannot fetch a running task's log from its worker;
    without one fernet key a connection saved by one service is unreadable by another."""
    for key in ("AIRFLOW__API__SECRET_KEY", "AIRFLOW__CORE__FERNET_KEY"):
        assert len({services[name]["environment"][key] for name in AIRFLOW_SERVICES}) == 1, key
    for name in AIRFLOW_SERVICES:
        assert chosen[name]["environment"]["AIRFLOW__API__SECRET_KEY"] == "key-from-env", name
        assert chosen[name]["environment"]["AIRFLOW__CORE__FERNET_KEY"] == "fernet-from-env", name


def test_fiftyops_store_and_connection(services):
    for name in AIRFLOW_SERVICES:
        env = services[name]["environment"]
        assert env["FIFTYOPS_DATABASE_URI"] == "mongodb://mongo:27017/?replicaSet=rs0", name
        assert env["FIFTYOPS_DATABASE_NAME"] == "fiftyops", name
        assert env["FIFTYOPS_LOG_PATH"] == "/opt/airflow/logs/fiftyops", name
        assert json.loads(env["AIRFLOW_CONN_FIFTYOPS_DEFAULT"]) == EXPECTED_CONNECTION, name


def test_mongo_is_the_replica_set_the_connection_names(services):
    command = words(services["mongo"]["command"])
    assert command[command.index("--replSet") + 1] == "rs0"
    assert "--bind_ip_all" in command
    assert services["mongo"]["image"].startswith("mongo:6.0")
    script = " ".join(words(services["mongo-init"].get("entrypoint")) + words(services["mongo-init"]["command"]))
    assert "mongosh" in script
    assert re.search(r'rs\.initiate\(\{\s*_id:\s*"rs0"', script)
    assert '"mongo:27017"' in script
    assert "rs.status()" in script, "initiating must be skipped when the replica set exists (idempotent)"
    assert "isWritablePrimary" in script, "mongo-init must wait for PRIMARY"


def test_mounts_dags_plugins_and_shared_logs(services):
    for name in AIRFLOW_SERVICES:
        found = mounts(services[name])
        assert Path(found["/opt/airflow/dags"][0]) == ROOT / "dags", name
        assert Path(found["/opt/fiftyops/plugins_repo"][0]) == ROOT / "plugins_repo", name
        assert found["/opt/fiftyops/plugins_repo"][1], f"{name}: plugins_repo must be read-only"
    log_volumes = {mounts(services[name])["/opt/airflow/logs"][0] for name in AIRFLOW_LONG_RUNNING}
    assert len(log_volumes) == 1 and not log_volumes.pop().startswith("/"), "one named volume for logs"


def test_data_lives_in_named_volumes(services):
    assert not mounts(services["postgres"])["/var/lib/postgresql/data"][0].startswith("/")
    assert not mounts(services["mongo"])["/data/db"][0].startswith("/")


def test_long_running_services_have_health_checks(services):
    def check(name: str) -> str:
        test = services[name].get("healthcheck", {}).get("test")
        assert test, f"{name} has no health check"
        return " ".join(words(test))

    for name in LONG_RUNNING:
        check(name)
    assert "/api/v2/monitor/health" in check("airflow-apiserver")
    assert "airflow jobs check --job-type SchedulerJob" in check("airflow-scheduler")
    assert "pg_isready" in check("postgres")
    assert "redis-cli ping" in check("redis")
    assert "mongosh" in check("mongo") and "ping" in check("mongo")


def test_start_order_waits_for_healthy_dependencies(services):
    def conditions(name: str) -> dict[str, str]:
        return {dep: spec["condition"] for dep, spec in services[name]["depends_on"].items()}

    assert conditions("mongo-init") == {"mongo": "service_healthy"}
    init = conditions("airflow-init")
    assert init["postgres"] == "service_healthy"
    assert init["redis"] == "service_healthy"
    assert init["mongo-init"] == "service_completed_successfully"
    for name in AIRFLOW_LONG_RUNNING:
        deps = conditions(name)
        assert deps["airflow-init"] == "service_completed_successfully", name
        assert deps["mongo-init"] == "service_completed_successfully", name
        assert deps["postgres"] == "service_healthy", name
        assert deps["redis"] == "service_healthy", name


def test_init_migrates_and_creates_the_pool_from_the_quota(services, chosen):
    init = " ".join(words(services["airflow-init"].get("entrypoint")) + words(services["airflow-init"]["command"]))
    assert "airflow db migrate" in init
    assert re.search(r'airflow pools set fiftyops "\$?\$\{AIRFLOW__FIFTYOPS__EXECUTION_QUOTA\}"', init)
    for name in AIRFLOW_SERVICES:
        assert services[name]["environment"]["AIRFLOW__FIFTYOPS__EXECUTION_QUOTA"] == "4", name
    for name in AIRFLOW_SERVICES:
        assert chosen[name]["environment"]["AIRFLOW__FIFTYOPS__EXECUTION_QUOTA"] == "7", name


def test_admin_password_reaches_the_api_server(services, chosen):
    """airflow-init writes the simple auth manager's passwords file where the api-server reads it."""
    path = services["airflow-apiserver"]["environment"]["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]
    assert services["airflow-init"]["environment"]["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"] == path
    assert services["airflow-apiserver"]["environment"]["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == "admin:admin"
    directory = str(Path(path).parent)
    volume = mounts(services["airflow-init"])[directory][0]
    assert mounts(services["airflow-apiserver"])[directory][0] == volume and not volume.startswith("/")
    assert services["airflow-init"]["environment"]["AIRFLOW_ADMIN_PASSWORD"] == "admin"
    init = " ".join(words(services["airflow-init"]["command"]))
    assert "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE" in init and "AIRFLOW_ADMIN_PASSWORD" in init
    assert chosen["airflow-init"]["environment"]["AIRFLOW_ADMIN_PASSWORD"] == "pw-from-env"


def test_image_is_airflow_3_3_2_with_this_provider_pinned(services):
    build = services["airflow-worker"]["build"]
    assert Path(build["context"]) == ROOT
    assert build["dockerfile"] == "deploy/airflow.Dockerfile"
    text = DOCKERFILE.read_text()
    assert re.search(r"^FROM apache/airflow:3\.3\.2-python3\.11\s*$", text, re.M)
    pinned = re.search(r"^apache-airflow==(\S+)$", (ROOT / "constraints.txt").read_text(), re.M)
    assert pinned and pinned.group(1) == "3.3.2", "image and constraints.txt must name the same Airflow"
    install = " ".join(text.replace("\\\n", " ").split())
    assert re.search(r"pip install .*-c /opt/fiftyops/constraints\.txt .*/opt/fiftyops\b", install)
    assert "apache-airflow-providers-celery" in install
    # Celery's workers fork tasks with the provider already imported (fiftyops_provider/preload.py).
    assert re.search(
        r"^COPY .*deploy/airflow_local_settings\.py /opt/airflow/config/airflow_local_settings\.py$", text, re.M
    )
    assert "import fiftyops_provider.preload" in (ROOT / "deploy" / "airflow_local_settings.py").read_text()
    # Every COPY source exists and the BuildKit ignore file next to the Dockerfile lets it through.
    ignore = (ROOT / "deploy" / "airflow.Dockerfile.dockerignore").read_text().split()
    for line in re.findall(r"^COPY\s+(?:--\S+\s+)*(.+)$", text, re.M):
        for source in line.split()[:-1]:
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
            assert f"!{source}" in ignore, f"COPY {source}: excluded from the build context"
