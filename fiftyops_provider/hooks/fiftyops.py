"""``FiftyOpsHook``: the operation store, plugin registry and secrets, bound to an Airflow connection.

It is the Mongo provider's ``MongoHook`` with its own connection type (``fiftyops``), so host,
port, credentials, ``srv``, ``ssl``/``tls``, ``allow_insecure`` and the other extras follow the Mongo
provider's rules exactly; the connection's schema is the FiftyOps database name.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote_plus, urlencode

from airflow.providers.mongo.hooks.mongo import MongoHook
from pymongo import MongoClient
from pymongo.database import Database

from fiftyops_provider import credential_holders
from fiftyops_provider.config import DEFAULT_DATABASE_NAME, load_settings
from fiftyops_provider.dag_factory.run_params import RUN_PARAMS
from fiftyops_provider.database import get_client
from fiftyops_provider.store import DelegatedOperationDocument, DelegatedOperationService


def _truthy(value: Any) -> bool:
    return str(value).lower() == "true"


def mongo_client_uri(
    host: str | None,
    port: int | None,
    login: str | None,
    password: str | None,
    schema: str | None,
    extras: dict[str, Any],
) -> str:
    """A complete MongoDB URI (every client option in the query string) from connection fields,
    by the Mongo provider's rules: ``srv`` -> ``mongodb+srv``; ``ssl``/``tls``; ``allow_insecure``
    (only with TLS) -> ``tlsAllowInvalidCertificates``; other extras are client options. Used by
    processes that connect on their own: the executor's child and the triggers.

    :param host: the server (or the SRV name).
    :param port: the port (none with SRV).
    :param login: the user, if any.
    :param password: the password, if any.
    :param schema: the database name (the URI's path).
    :param extras: the connection's extras (client options and the provider's flags).
    """
    options = dict(extras)
    scheme = "mongodb+srv" if _truthy(options.pop("srv", False)) else "mongodb"
    allow_insecure = _truthy(options.pop("allow_insecure", False))
    if allow_insecure and (_truthy(options.get("ssl")) or _truthy(options.get("tls"))):
        options.pop("ssl", None)
        options["tls"] = True
        options["tlsAllowInvalidCertificates"] = True
    netloc = host or "localhost"
    if login is not None and password is not None:
        netloc = f"{quote_plus(login)}:{quote_plus(password)}@{netloc}"
    if port:
        netloc = f"{netloc}:{port}"
    query = urlencode({k: str(v).lower() if isinstance(v, bool) else v for k, v in options.items()})
    return f"{scheme}://{netloc}/{schema or ''}" + (f"?{query}" if query else "")


async def async_client_uri(conn_id: str) -> tuple[str, str]:
    """(URI, database name) of a FiftyOps connection, fetched without blocking the event loop
    (for triggers: the sync connection lookup can stall the triggerer).

    :param conn_id: the FiftyOps connection.
    """
    from fiftyops_provider.airflow_compat import get_async_connection, get_async_extra_dejson

    conn = await get_async_connection(conn_id)
    extras = await get_async_extra_dejson(conn)
    uri = mongo_client_uri(conn.host, conn.port, conn.login, conn.password, conn.schema, extras)
    return uri, conn.schema or DEFAULT_DATABASE_NAME


class AirflowSecrets:
    """Plugin secrets from Airflow Variables (same key), falling back to the environment."""

    def get(self, key: str) -> str | None:
        """The secret ``key``: the Airflow Variable of that name, else the environment variable (so a
        plugin's secrets can be managed where Airflow keeps its own).

        :param key: the secret's name, as the plugin declares it.
        """
        from airflow.sdk import Variable

        value = Variable.get(key, default=None)
        return value if value is not None else os.environ.get(key)


class FiftyOpsHook(MongoHook):
    """The FiftyOps database behind an Airflow connection: the operation store, the plugin
    registry and an executor, all on one client shared by the process's hooks.

    :param fiftyops_conn_id: the ``fiftyops`` (or ``mongo``) connection; its schema is the
        FiftyOps database.
    """

    conn_type = "fiftyops"
    conn_name_attr = "fiftyops_conn_id"
    default_conn_name = "fiftyops_default"
    hook_name = "FiftyOps"
    # A hook of a process that lives for one parse or one task (``parsing_hook``, ``task_hook``):
    # its client is a short-lived one (``database.get_client``).
    short_lived = False

    def __init__(self, fiftyops_conn_id: str = default_conn_name) -> None:
        from fiftyops_provider.dag_factory.settings import apply_fiftyone_python

        apply_fiftyone_python()  # the operator sources built on this hook's database see it
        self.fiftyops_conn_id = fiftyops_conn_id
        super().__init__(mongo_conn_id=fiftyops_conn_id)
        credential_holders.track(self, _forget_connection)

    @staticmethod
    def _validate_connection(conn: Any) -> None:
        """Accept ``fiftyops`` (and plain ``mongo``) connections, with MongoHook's other checks."""
        if conn.conn_type not in (FiftyOpsHook.conn_type, "mongo"):
            raise ValueError(
                f"Connection {conn.conn_id!r} has type {conn.conn_type!r}; "
                "FiftyOps needs a 'fiftyops' (or 'mongo') connection."
            )
        if conn.port and conn.extra_dejson.get("srv"):
            raise ValueError("An SRV connection (extra srv=true) must not set a port.")

    @property
    def database_name(self) -> str:
        """The FiftyOps database: the connection's schema, else ``fiftyops``."""
        return self.connection.schema or DEFAULT_DATABASE_NAME

    @property
    def client_uri(self) -> str:
        """The same server and options as ``get_conn()``, as one URI."""
        conn = self.connection
        return mongo_client_uri(conn.host, conn.port, conn.login, conn.password, conn.schema, conn.extra_dejson)

    def get_conn(self) -> MongoClient:
        """The process's one client for this connection's URI, shared by every hook on it.

        An operation task makes a hook while its DAG file is parsed (the operator list) and
        another when it runs; sharing the client spares the second a connection handshake and
        server discovery before the claim (pymongo's advice: one client per process)."""
        if self.client is None:
            self.client = get_client(self.client_uri, short_lived=self.short_lived)
        return self.client

    def close(self) -> None:
        """Let go of the shared client without closing it: other hooks in this process use it
        (pymongo closes it at exit). The one way a hook lets go, also at the end of a ``with``."""
        self.client = None

    def __exit__(self, *exc: object) -> None:
        """``with FiftyOpsHook() as hook:`` ends with ``close()``; MongoHook's ``__exit__`` would
        close the client every other hook on this connection shares."""
        self.close()

    def get_database(self) -> Database:
        """The FiftyOps database on the process's shared client."""
        return self.get_conn()[self.database_name]

    def get_service(self) -> DelegatedOperationService:
        """The operation store on this connection: the one way to read or change operations."""
        return DelegatedOperationService(self.get_database())

    def get_registry(self):
        """The plugin registry on this connection (installed plugins, their settings, archives)."""
        from fiftyops_provider.plugins.registry import PluginRegistry

        return PluginRegistry(self.get_database())

    def secrets_source(self) -> AirflowSecrets:
        """Where plugin secrets come from in Airflow: Variables, then the environment."""
        return AirflowSecrets()

    def get_executor(self, service: DelegatedOperationService | None = None, **options: Any):
        """An ``Executor`` on this connection's database; its child processes connect with the same URI,
        read plugin secrets from Airflow Variables (then the environment), and get the environment
        names ``[fiftyops] child_env_allowlist`` and ``FIFTYOPS_CHILD_ENV_ALLOWLIST`` add to the
        built-in list.

        :param service: the store to use, if the caller has one (one client, one service per task).
        :param options: ``Executor`` options (heartbeat and termination intervals, executor id, ...).
        """
        from fiftyops_provider.airflow_compat import conf
        from fiftyops_provider.execution import Executor
        from fiftyops_provider.execution.child_env import parse_allowlist

        options.setdefault(
            "child_env_allowlist",
            parse_allowlist(conf.get("fiftyops", "child_env_allowlist", fallback=""))
            + parse_allowlist(load_settings().child_env_allowlist),
        )
        return Executor(
            service or self.get_service(), secrets=self.secrets_source(), database_uri=self.client_uri, **options
        )

    def launch_from_params(
        self, operator_uri: str, params: dict[str, Any], user: str | None
    ) -> DelegatedOperationDocument:
        """Queue an operation from the DAG's Trigger form (its params), as ``user``, sent to this
        deployment's first delegation target.

        :param operator_uri: the operator the DAG runs.
        :param params: the DAG run's params: the operator's inputs, the dataset, and the run params
            (``RUN_PARAMS``), which are not inputs and are left out.
        :param user: the Airflow user who triggered the run; the operation runs as them.
        """
        from fiftyops_provider.dag_factory.settings import delegation_targets
        from fiftyops_provider.plugins.delegate import delegate

        inputs = {k: v for k, v in params.items() if k not in RUN_PARAMS and v is not None}
        return delegate(
            operator_uri,
            dataset=params.get("dataset"),
            params=inputs,
            user=user,
            delegation_target=delegation_targets()[0],
            db=self.get_database(),
        )


# The hook a task start's parse of the DAG file made, by connection id, until the task takes it.
_handed_over: dict[str, FiftyOpsHook] = {}


def parsing_hook(conn_id: str) -> FiftyOpsHook:
    """A hook for the DAG factory's parse. When the parse is a task start's (Airflow names the
    one DAG it wants), the hook is kept for that task's ``task_hook``: the task then looks its
    connection up once, not twice, before its claim (with a secrets backend each lookup is a
    round trip).

    :param conn_id: the FiftyOps connection.
    """
    from airflow.sdk import get_parsing_context

    hook = FiftyOpsHook(conn_id)
    hook.short_lived = True  # a task's parse, or the dag-processor's parse process
    if get_parsing_context().dag_id is not None:
        _handed_over[conn_id] = hook
    return hook


def task_hook(conn_id: str) -> FiftyOpsHook:
    """The hook this task process's parse made for ``conn_id`` (taken once: a later call, or a
    process that did not parse for a task, gets a fresh hook).

    :param conn_id: the FiftyOps connection.
    """
    hook = _handed_over.pop(conn_id, None) or FiftyOpsHook(conn_id)
    hook.short_lived = True
    return hook


def _forget_connection(hook: FiftyOpsHook) -> None:
    """In an operator's forked child: the connection (password), the URI and the client go."""
    vars(hook).update(connection=None, uri=None, extras={}, client=None)
