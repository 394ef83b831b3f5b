"""``fiftyops up``: the whole FiftyOps stack on one machine, on embedded defaults.

MongoDB (the configured one, or the embedded mongod), the example plugins, and a real
``airflow standalone`` on loopback with the FiftyOps connection, pool and DAGs. Everything this
starts is stopped by PID on ``stop()``; a mongod that was already running is left running.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from pymongo.uri_parser import parse_uri

from fiftyops_provider.config import Settings, load_settings
from fiftyops_provider.dag_factory.naming import DAG_PREFIX, POOL_NAME
from fiftyops_provider.database import embedded_server, get_client
from fiftyops_provider.hooks.airflow_rest_client import AirflowAPI
from fiftyops_provider.stacks.demo import REPO_ROOT, install_example_plugins
from fiftyops_provider.stacks.embedded_mongo import EmbeddedMongo
from fiftyops_provider.stacks.standalone import PASSWORD_FILE, AirflowStandalone, clear_leftovers

DEFAULT_QUOTA = 4


def airflow_connection(mongo_uri: str, database: str) -> str:
    """The ``fiftyops_default`` connection (JSON form of ``AIRFLOW_CONN_*``) for a MongoDB URI."""
    parsed = parse_uri(mongo_uri)
    nodes = parsed["nodelist"]
    extra = dict(parsed["options"])
    if mongo_uri.startswith("mongodb+srv://"):
        extra["srv"] = True
        host, port = parsed["fqdn"], None
    elif len(nodes) == 1:
        host, port = nodes[0]
    else:
        host, port = ",".join(f"{h}:{p}" for h, p in nodes), None
    conn = {"conn_type": "fiftyops", "host": host, "schema": database, "extra": extra}
    if port:
        conn["port"] = port
    if parsed["username"]:
        conn["login"], conn["password"] = parsed["username"], parsed["password"]
    return json.dumps(conn)


def default_parallelism() -> int:
    return max(2, min(8, 2 * (os.cpu_count() or 1)))


@dataclass
class Stack:
    settings: Settings = field(default_factory=load_settings)
    quota: int = DEFAULT_QUOTA
    admin: str = "admin"
    dags_folder: Path = REPO_ROOT / "dags"
    uri: str = ""  # the MongoDB URI in use, set by start()
    mongo: EmbeddedMongo | None = None  # set when this stack started the embedded mongod
    airflow: AirflowStandalone | None = None
    api: AirflowAPI | None = None

    @property
    def database(self):
        return get_client(self.uri)[self.settings.database_name]

    def start(self, port: int | None = None) -> None:
        # Before anything is written: a home another live `up` uses is refused as it is.
        clear_leftovers(self.settings.home / "airflow")
        self.uri = self.settings.database_uri or self._start_embedded()
        install_example_plugins(self.database, acting_user=self.admin)
        env = {
            "FIFTYOPS_DATABASE_URI": self.uri,
            "FIFTYOPS_DATABASE_NAME": self.settings.database_name,
            "FIFTYOPS_HOME": str(self.settings.home),
            "AIRFLOW_CONN_FIFTYOPS_DEFAULT": airflow_connection(self.uri, self.settings.database_name),
            "AIRFLOW__FIFTYOPS__EXECUTION_QUOTA": str(self.quota),
        }
        self.airflow = AirflowStandalone(
            self.settings.home / "airflow", self.dags_folder, port=port, parallelism=default_parallelism(), env=env
        )
        self.airflow.start()
        self.api = AirflowAPI(self.airflow.base_url, "admin", self.airflow.password)
        self.api.create_pool(POOL_NAME, self.quota, "FiftyOps execution quota")
        for dag in self.api.list_dags():
            if dag["dag_id"].startswith(DAG_PREFIX) and dag.get("is_paused"):
                self.api.unpause(dag["dag_id"])

    def _start_embedded(self) -> str:
        server = embedded_server(self.settings)
        if not server.is_running():
            self.mongo = server
        return server.start()

    @property
    def base_url(self) -> str:
        """The started Airflow's UI and REST API."""
        if self.airflow is None:
            raise RuntimeError("The stack is not started; call start() first.")
        return self.airflow.base_url

    @property
    def password_file(self) -> Path:
        return self.settings.home / "airflow" / PASSWORD_FILE

    def stop(self) -> None:
        if self.airflow is not None:
            self.airflow.stop()
            self.airflow = None
        if self.mongo is not None:
            self.mongo.stop()
            self.mongo = None
