"""``AirflowAPIHook``: the Airflow REST API the dispatcher starts operation runs through.

The dispatcher (``dispatch_mode = direct``) runs in the triggerer, which has no public way to
create DAG runs except the REST API; this hook turns an Airflow connection (default
``fiftyops_airflow_api``) into the API's base URL and credentials. Any connection type works:
``http``/``https`` set the scheme, the host may also be a whole URL, the schema is a path prefix
(an API server behind a proxy), login and password are a user allowed to trigger DAG runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fiftyops_provider.airflow_compat import AirflowNotFoundException, BaseHook, get_async_connection
from fiftyops_provider.hooks.airflow_rest_client import AirflowAPI


@dataclass(frozen=True)
class APICredentials:
    """Where the REST API is and who to log in as: plain values a trigger can be given.

    :param base_url: the API server (with any path prefix).
    :param username: a user allowed to trigger DAG runs.
    :param password: their password.
    """

    base_url: str
    username: str
    password: str

    def client(self) -> AirflowAPI:
        """A REST client with these credentials (it fetches and renews its token itself)."""
        return AirflowAPI(self.base_url, self.username, self.password)


class AirflowAPIHook(BaseHook):
    """Airflow's REST API behind a connection, for the dispatcher that starts operation runs.

    :param airflow_api_conn_id: the connection: the API server's URL and a user allowed to
        trigger DAG runs.
    """

    conn_name_attr = "airflow_api_conn_id"
    default_conn_name = "fiftyops_airflow_api"
    conn_type = "http"
    hook_name = "Airflow REST API (FiftyOps dispatcher)"

    def __init__(self, airflow_api_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.airflow_api_conn_id = airflow_api_conn_id

    def get_credentials(self) -> APICredentials:
        """The API's base URL and login from the connection. The trigger gets these plain values (trigger
        kwargs are stored encrypted) so the triggerer never blocks on a connection lookup.

        :raises AirflowNotFoundException: the connection is missing (the message says how to add it,
            or to use ``dispatch_mode = sensor``).
        :raises ValueError: the connection has no host or login.
        """
        try:
            conn = self.get_connection(self.airflow_api_conn_id)
        except AirflowNotFoundException as exc:
            raise _missing(self.airflow_api_conn_id) from exc
        return credentials_of(self.airflow_api_conn_id, conn)

    def get_conn(self) -> AirflowAPI:
        """A REST client for the connection's API server (Airflow's hook protocol)."""
        return self.get_credentials().client()


async def async_api_credentials(conn_id: str) -> APICredentials:
    """``AirflowAPIHook(conn_id).get_credentials()`` without blocking the event loop (triggers).
    Through ``airflow_compat``: ``BaseHook.aget_connection`` does not exist on Airflow 3.0.

    :param conn_id: the Airflow connection of the API server and its user.
    """
    try:
        conn = await get_async_connection(conn_id)
    except AirflowNotFoundException as exc:
        raise _missing(conn_id) from exc
    return credentials_of(conn_id, conn)


def credentials_of(conn_id: str, conn: Any) -> APICredentials:
    """The API's base URL and user from a connection: ``http``/``https`` set the scheme, the host
    may be a whole URL, the schema is a path prefix.

    :param conn_id: the connection's id, named in errors.
    :param conn: the Airflow connection (sync or async lookup).
    """
    if not conn.host or not conn.login:
        raise ValueError(f"Connection {conn_id!r} needs a host (the API server) and a login.")
    scheme = conn.conn_type if conn.conn_type in ("http", "https") else "http"
    base = conn.host if "://" in conn.host else f"{scheme}://{conn.host}" + (f":{conn.port}" if conn.port else "")
    if conn.schema:
        base = f"{base.rstrip('/')}/{conn.schema.strip('/')}"
    return APICredentials(base, conn.login, conn.password or "")


def _missing(conn_id: str) -> AirflowNotFoundException:
    return AirflowNotFoundException(
        f"The FiftyOps dispatcher starts operation runs through Airflow's REST API and needs the connection "
        f"{conn_id!r}: the API server's URL and a user allowed to trigger DAG runs, e.g. "
        f"AIRFLOW_CONN_{conn_id.upper()}='http://user:password@airflow-apiserver:8080'. "
        "Or set [fiftyops] dispatch_mode = sensor, which needs no API access."
    )
