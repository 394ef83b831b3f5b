"""Everything that differs between the Airflow 3 minors FiftyOps supports (3.0 to 3.3), in one place.

The rest of the package imports these names from here, never the version-dependent Airflow modules
themselves. Names that are the same in every 3.x (``airflow.sdk``'s ``DAG``, ``BaseOperator``,
``Param``..., ``airflow.triggers.base``) are imported from Airflow directly.

- ``BaseHook``, ``conf``, the task exceptions and the link ``XCom`` moved into ``airflow.sdk``
  between 3.0 and 3.2: ``airflow.providers.common.compat.sdk`` (Airflow's own compatibility
  provider, which the mongo provider already installs) resolves each to where this Airflow has it.
- Async connection lookups: ``BaseHook.aget_connection`` came in 3.1 and
  ``Connection.aextra_dejson`` in 3.3; the compat provider falls back to the sync lookup in a thread.
- UI nav entries (``external_views``) came in 3.1; the top-level entry (``nav_top_level``) in 3.3.
- The UI session: 3.0's ``get_user`` reads only a Bearer header; 3.1+ also read the ``_token`` cookie.
- Task comms: from 3.2 a task may talk to its supervisor from any thread (calls are serialized);
  before, only from the task's main thread.
- The DAG run's ``triggering_user_name`` came in 3.1.
- The simple auth manager's ``get_users`` returns ``{"username", "role"}`` dicts on 3.0 and 3.1,
  ``SimpleAuthManagerUser`` objects from 3.2.

The same in every 3.x, so not here: the REST API calls FiftyOps makes (``hooks/airflow_rest_client``;
a pool is resized with the whole pool as body, as every minor requires), the separate execution API
server (``airflow api-server --apps execution``, ``[core] execution_api_server_url``) and the UI's
task instance route that ``run_link`` points at.
"""

# No ``from __future__ import annotations``: FastAPI reads the annotations of the 3.0 user
# dependency below, which must be the classes themselves, not names to look up in this module.
from collections.abc import Callable
from typing import Any

from airflow import __version__ as _airflow_version
from airflow.providers.common.compat.connection import get_async_connection, get_async_extra_dejson
from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowNotFoundException,
    AirflowSkipException,
    BaseHook,
    XCom,
    conf,
)
from packaging.version import Version

__all__ = [
    "AIRFLOW_VERSION",
    "UI_TOKEN_IN_LOCAL_STORAGE",
    "AirflowException",
    "AirflowFailException",
    "AirflowNotFoundException",
    "AirflowSkipException",
    "BaseHook",
    "XCom",
    "conf",
    "get_async_connection",
    "get_async_extra_dejson",
    "nav_entries",
    "simple_auth_manager_names",
    "task_comms_thread_safe",
    "triggering_user",
    "ui_user_dependency",
]

AIRFLOW_VERSION = Version(Version(_airflow_version).base_version)
AIRFLOW_3_1_PLUS = Version("3.1.0") <= AIRFLOW_VERSION
AIRFLOW_3_2_PLUS = Version("3.2.0") <= AIRFLOW_VERSION

# Airflow 3.0's UI moves its session token from the ``_token`` cookie into ``localStorage["token"]``
# (and deletes the cookie); 3.1+ keep the cookie. Pages served next to the UI read this flag.
UI_TOKEN_IN_LOCAL_STORAGE = not AIRFLOW_3_1_PLUS
SESSION_COOKIE = "_token"


def task_comms_thread_safe() -> bool:
    """Whether a task may call its supervisor (``ti.xcom_push``, Variables...) from a thread of its
    own: Airflow 3.2 serializes those calls with a lock; 3.0 and 3.1 do not, so two threads'
    messages can interleave."""
    return AIRFLOW_3_2_PLUS


def triggering_user(dag_run: Any) -> str | None:
    """The user who triggered a DAG run (``triggering_user_name``, Airflow 3.1+); None on 3.0, which
    does not record it, and for runs nobody triggered by hand."""
    return getattr(dag_run, "triggering_user_name", None)


def simple_auth_manager_names(auth_manager: Any) -> set[str]:
    """The account names configured in the simple auth manager (``[core] simple_auth_manager_users``):
    its ``get_users`` returns user objects from 3.2, and ``{"username", "role"}`` dicts before."""
    users = auth_manager.get_users()
    if AIRFLOW_3_2_PLUS:
        return {user.username for user in users}
    return {user["username"] for user in users}


def nav_entries(views: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The plugin's ``external_views`` for this Airflow. 3.1+ show them in the nav (3.1 and 3.2
    ignore ``nav_top_level`` and list a top-level entry under "Plugins"). 3.0 has no
    ``external_views``; its only nav entries (``appbuilder_menu_items``) need the FAB auth manager,
    so there the pages have no nav entry and are opened at their own URLs."""
    return views if AIRFLOW_3_1_PLUS else []


def ui_user_dependency() -> Callable[..., Any]:
    """The FastAPI dependency that resolves the Airflow user of an api-server request: Airflow's
    ``get_user`` (Bearer header, else the ``_token`` cookie) on 3.1+. 3.0's ``get_user`` reads only
    the Bearer header, so there the token is taken from the header or the ``_token`` cookie (which
    the FiftyOps pages set on their own path, see ``UI_TOKEN_IN_LOCAL_STORAGE``) and handed to it."""
    from airflow.api_fastapi.core_api.security import get_user

    if AIRFLOW_3_1_PLUS:
        return get_user
    from fastapi import HTTPException, Request

    user_from_token: Callable[[str], Any] = get_user  # type: ignore[assignment]  # 3.0's signature

    async def user_from_bearer_or_cookie(request: Request) -> Any:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token if scheme.lower() == "bearer" else request.cookies.get(SESSION_COOKIE, "")
        if not token:
            raise HTTPException(401, "Not authenticated")
        return await user_from_token(token)

    return user_from_bearer_or_cookie
