"""FiftyOpsHook: a ``fiftyops`` connection to the real mongod, and the Mongo provider's URI rules."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from pymongo import MongoClient

import fiftyops_provider.management as fom
from fiftyops_provider.datasets.catalog import create_dataset
from fiftyops_provider.hooks.fiftyops import FiftyOpsHook, mongo_client_uri
from fiftyops_provider.store import ExecutionRunState as S

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def conn(mongod, db, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_FIFTYOPS_DEFAULT",
        json.dumps(
            {
                "conn_type": "fiftyops",
                "host": "127.0.0.1",
                "port": mongod.port,
                "schema": db.name,
                "extra": {"directConnection": True},
            }
        ),
    )
    return db


def test_service_queues_and_reads_in_the_connections_database(conn, service):
    hook = FiftyOpsHook()
    assert hook.database_name == conn.name
    assert hook.get_database().client is hook.get_database().client  # one client per hook
    doc = hook.get_service().queue_operation("@x/y", label="from the hook")
    assert service.get(doc.id).label == "from the hook"  # the test's own client sees it
    assert hook.get_service().get(doc.id).run_state == S.SCHEDULED


def test_client_uri_reaches_the_same_server(conn, mongod):
    hook = FiftyOpsHook()
    assert hook.client_uri == f"mongodb://127.0.0.1:{mongod.port}/{conn.name}?directConnection=true"
    with MongoClient(hook.client_uri, serverSelectionTimeoutMS=5000) as client:
        assert client.admin.command("ping")["ok"] == 1


def test_launch_from_params_queues_with_inputs_only(conn, monkeypatch):
    monkeypatch.setenv("FIFTYOPS_USER", "admin")
    fom.upload_plugin(ROOT / "plugins_repo" / "utils")
    create_dataset(conn, "d")
    doc = FiftyOpsHook().launch_from_params(
        "@fiftyops/utils/compute_field",
        {"operation_id": None, "rerun_of": None, "dataset": "d", "field": "size", "source_field": None},
        "admin",
    )
    request = doc.context["request_params"]
    assert request["dataset_name"] == "d"
    assert request["params"]["field"] == "size"
    assert "operation_id" not in request["params"] and "dataset" not in request["params"]


def test_secrets_come_from_variables_then_the_environment(monkeypatch):
    source = FiftyOpsHook.secrets_source(None)  # no connection needed
    monkeypatch.setenv("AIRFLOW_VAR_FO_TOKEN", "from-variable")
    monkeypatch.setenv("FO_TOKEN", "from-env")
    monkeypatch.setenv("FO_ONLY_ENV", "env-only")
    assert source.get("FO_TOKEN") == "from-variable"
    assert source.get("FO_ONLY_ENV") == "env-only"
    assert source.get("FO_NOWHERE") is None


def test_other_connection_types_are_refused(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_NOT_MONGO", json.dumps({"conn_type": "http", "host": "x"}))
    with pytest.raises(ValueError, match="'fiftyops'"):
        FiftyOpsHook("not_mongo")


@pytest.mark.parametrize(
    ("fields", "extras", "expected"),
    [
        (("h", 27017, None, None, "db"), {}, "mongodb://h:27017/db"),
        (("cluster.example.com", None, None, None, "db"), {"srv": True}, "mongodb+srv://cluster.example.com/db"),
        (("h", None, None, None, None), {"srv": "false"}, "mongodb://h/"),
        (("h", 1, None, None, "db"), {"tls": True}, "mongodb://h:1/db?tls=true"),
        (
            ("h", 1, None, None, "db"),
            {"ssl": "true", "allow_insecure": True},
            "mongodb://h:1/db?tls=true&tlsAllowInvalidCertificates=true",
        ),
        (("h", 1, None, None, "db"), {"allow_insecure": True}, "mongodb://h:1/db"),  # only with TLS, as MongoHook
        (
            ("h", 1, "us@r:x", "p/ss w@rd%", "db"),
            {"replicaSet": "rs0", "authSource": "admin"},
            "mongodb://us%40r%3Ax:p%2Fss+w%40rd%25@h:1/db?replicaSet=rs0&authSource=admin",
        ),
        (("h", 1, "user", None, "db"), {}, "mongodb://h:1/db"),  # no password: no credentials, as MongoHook
    ],
)
def test_uri_rules_follow_the_mongo_provider(fields, extras, expected):
    assert mongo_client_uri(*fields, extras) == expected


def test_credentials_round_trip_through_pymongo():
    from pymongo.uri_parser import parse_uri

    parsed = parse_uri(mongo_client_uri("h", 1, "us@r:x", "p/ss w@rd%", "db", {"replicaSet": "rs0"}))
    assert (parsed["username"], parsed["password"], parsed["database"]) == ("us@r:x", "p/ss w@rd%", "db")
    assert parsed["options"]["replicaSet"] == "rs0"


def test_hooks_on_one_connection_share_the_processs_client(conn):
    """A task's parse-time hook and its run-time hook: one handshake, not two."""
    parse_time, run_time = FiftyOpsHook(), FiftyOpsHook()
    assert parse_time.get_conn() is run_time.get_conn()
    parse_time.close()  # MongoHook's close: the other hook's client must stay usable
    assert run_time.get_database().command("ping")["ok"] == 1
    assert parse_time.get_conn() is run_time.get_conn()


def test_a_task_processs_client_opens_fewer_connections(conn):
    """A task's (or a parse's) process lives for seconds: its client polls each server on one
    connection instead of streaming on two, so every task start costs MongoDB fewer connections."""
    from fiftyops_provider.hooks.fiftyops import task_hook

    def created() -> int:
        time.sleep(1)  # the monitors connect in threads of their own
        return conn.command("serverStatus")["connections"]["totalCreated"]

    before = created()
    task_hook(FiftyOpsHook.default_conn_name).get_database().command("ping")
    task_connections = created() - before
    before = created()
    FiftyOpsHook().get_database().command("ping")  # a long-lived process's hook (the api-server's)

    assert task_connections == created() - before - 1


def test_executors_add_the_admins_child_env_allowlist_from_airflow_config_and_the_environment(conn, monkeypatch):
    monkeypatch.setenv("AIRFLOW__FIFTYOPS__CHILD_ENV_ALLOWLIST", "AWS_REGION, MY_APP_*")
    monkeypatch.setenv("FIFTYOPS_CHILD_ENV_ALLOWLIST", "EXTRA_NAME")

    executor = FiftyOpsHook().get_executor()

    assert executor.child_env_allowlist == ("AWS_REGION", "MY_APP_*", "EXTRA_NAME")


def test_a_forked_operator_child_forgets_the_hooks_connection(conn):
    from fiftyops_provider import credential_holders

    hook = FiftyOpsHook()
    hook.get_conn()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # what a forked operator child does before the operator runs
        credential_holders.forget_all()
        os.write(write_end, repr((hook.connection, hook.uri, hook.client, vars(hook))).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as seen:
        in_child = seen.read()
    os.waitpid(pid, 0)

    assert in_child.startswith("(None, None, None, ") and "127.0.0.1" not in in_child
    assert hook.connection is not None and "127.0.0.1" in hook.uri  # the parent keeps its own


def test_leaving_a_with_block_lets_go_like_close(conn):
    """One contract: ``close()`` and the end of a ``with`` both let go of the shared client,
    neither closes it under the other hooks."""
    other = FiftyOpsHook()
    with FiftyOpsHook() as hook:
        shared = hook.get_conn()
    assert hook.client is None
    assert other.get_conn() is shared and other.get_database().command("ping")["ok"] == 1
