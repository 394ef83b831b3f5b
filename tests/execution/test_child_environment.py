"""What an operator's child can find of its parent's credentials: nothing, forked or spawned.

The parent here plays an Airflow worker: Airflow connections, the metadata database and a cloud
key in its environment, its own FiftyOps settings and a MongoDB client built from a URI the child
must not see. A hostile operator (``Snoop``) looks for each of them in its environment, its
initial environment block and every FiftyOps or pymongo object in its memory.
"""

from __future__ import annotations

import pytest
from isolation_operators import SECRET, SNOOP, SOURCE

from fiftyops_provider.config import load_settings
from fiftyops_provider.database import get_client
from fiftyops_provider.execution import OutcomeState
from fiftyops_provider.execution.child_env import child_environment

PARENT_ONLY = {
    "AIRFLOW_CONN_FIFTYOPS_DEFAULT": "mongodb://fiftyops:mongo-pw-7f3a@db:27017/fiftyops",
    "AIRFLOW_CONN_FIFTYOPS_AIRFLOW_API": "http://admin:api-pw-91c2@airflow-apiserver:8080",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql://airflow:sql-pw-55d0@postgres/airflow",
    "FIFTYOPS_DATABASE_NAME_HINT": "db-name-hint-6e1f",
    "CLOUD_SECRET_ACCESS_KEY": "cloud-key-0b7e",
}
PARENT_URI_MARKER = "parent-client-marker-3c9d"


def run_snoop(service, make_executor, mongod, monkeypatch, method: str):
    """Run ``Snoop`` with ``method`` under a parent that plays an Airflow worker; its outcome.
    (Also the hostile corpus' case, tests/reliability.)"""
    for name, value in PARENT_ONLY.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(SECRET, "declared-secret-4d2a")
    monkeypatch.setenv("FIFTYOPS_CHILD_START", method)
    # The parent's own database setting and client, as a worker has them (not the child's URI).
    parent_uri = f"{mongod.uri}{'&' if '?' in mongod.uri else '?'}appname={PARENT_URI_MARKER}"
    monkeypatch.setenv("FIFTYOPS_DATABASE_URI", parent_uri)
    parent_settings = load_settings()
    parent_client = get_client(parent_uri)
    parent_client.admin.command("ping")
    needles = [needle[::-1] for needle in [*PARENT_ONLY.values(), PARENT_URI_MARKER]]
    doc = service.queue_operation(
        SNOOP, context={"request_params": {"params": {"needles": needles}}}, initial_state="queued", queued_by="alice"
    )

    outcome = make_executor(source=SOURCE, database_uri=mongod.uri).run(doc.id)

    assert parent_settings.database_uri == parent_uri and parent_client.admin.command("ping")  # the parent's stay
    assert outcome.state is OutcomeState.COMPLETED, outcome.error
    return outcome


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_an_operator_finds_none_of_its_parents_credentials(service, make_executor, mongod, monkeypatch, method):
    outcome = run_snoop(service, make_executor, mongod, monkeypatch, method)

    assert outcome.result["found"] == []
    assert SECRET in outcome.result["env_names"]  # what the plugin declares does arrive
    assert not [name for name in outcome.result["env_names"] if name.startswith(("AIRFLOW", "FIFTYOPS_DATABASE"))]


def test_the_child_environment_is_an_allow_list():
    parent = {
        "PATH": "/usr/bin",
        "HOME": "/home/w",
        "LC_ALL": "C.UTF-8",
        "CUDA_VISIBLE_DEVICES": "0",
        "https_proxy": "http://proxy:3128",
        "AWS_REGION": "eu-west-1",
        "AWS_SECRET_ACCESS_KEY": "aws-secret",
        "MY_APP_MODE": "fast",
        "AIRFLOW_CONN_X": "mongodb://u:p@h",
        "FIFTYOPS_DATABASE_URI": "mongodb://u:p@h",
        "OTHER_PLUGIN_TOKEN": "other",
    }
    secrets = {"WEBHOOK_TOKEN": "tok", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "declared-but-reserved"}

    env = child_environment(parent, secrets, ["AWS_REGION", "MY_APP_*", "AIRFLOW_*", "FIFTYOPS_DATABASE_URI"])

    kept = ("PATH", "HOME", "LC_ALL", "CUDA_VISIBLE_DEVICES", "https_proxy", "AWS_REGION", "MY_APP_MODE")
    assert env == {name: parent[name] for name in kept} | {"WEBHOOK_TOKEN": "tok", "PYTHONUNBUFFERED": "1"}
