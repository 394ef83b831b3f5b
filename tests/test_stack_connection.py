"""The Airflow connection ``fiftyops up`` derives from a MongoDB URI."""

from __future__ import annotations

import json

from fiftyops_provider.stacks.local import airflow_connection


def test_single_host_with_options():
    conn = json.loads(airflow_connection("mongodb://127.0.0.1:27217/?directConnection=true", "fiftyops"))
    assert conn == {
        "conn_type": "fiftyops",
        "host": "127.0.0.1",
        "port": 27217,
        "schema": "fiftyops",
        "extra": {"directConnection": True},
    }


def test_replica_set_with_credentials():
    conn = json.loads(airflow_connection("mongodb://ops:p%40ss@m1:27017,m2:27018/?replicaSet=rs0&tls=true", "ops"))
    assert conn["host"] == "m1:27017,m2:27018" and "port" not in conn
    assert (conn["login"], conn["password"]) == ("ops", "p@ss")
    assert conn["extra"] == {"replicaSet": "rs0", "tls": True}
