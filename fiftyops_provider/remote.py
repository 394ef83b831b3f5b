"""Remote mode: the SDK and CLI talk to the FiftyOps API inside Airflow's api-server.

Direct mode (a database URI) is trusted: whoever holds the database credentials can do anything,
so it is for Airflow components and admins. Remote mode is for everyone else: the caller proves
who they are with an Airflow token (from Airflow's ``/auth/token``), and the server applies
``access.run_rules`` to that identity. Remote mode is on when ``FIFTYOPS_API_URL`` is set (with
``FIFTYOPS_API_TOKEN``) or after ``fiftyops login``, which stores both in
``$FIFTYOPS_HOME/credentials.json`` (mode 0600).

Runs travel as MongoDB Extended JSON, so the SDK returns the same ``DelegatedOperationDocument``
in both modes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import requests
from bson import json_util

from fiftyops_provider.config import load_settings
from fiftyops_provider.plugins.errors import OperatorNotFound, PermissionDenied, PluginError
from fiftyops_provider.run_actions import RunQuery
from fiftyops_provider.store import DelegatedOperationDocument, OperationNotFound, OperationPage, StoreError

API_PREFIX = "/fiftyops/api"
TIMEOUT_SECONDS = 60.0


class RemoteError(PluginError):
    """The FiftyOps API could not be reached, or answered something other than its errors."""


@dataclass(frozen=True)
class RemoteLogin:
    """Where the FiftyOps API is and the Airflow token that identifies the caller."""

    api_url: str
    token: str


def credentials_file() -> Path:
    return load_settings().home / "credentials.json"


def remote_login() -> RemoteLogin | None:
    """The remote-mode login in effect: ``FIFTYOPS_API_URL`` (+ ``FIFTYOPS_API_TOKEN``), else the
    one ``fiftyops login`` stored; None means direct mode."""
    url = os.environ.get("FIFTYOPS_API_URL")
    if url:
        token = os.environ.get("FIFTYOPS_API_TOKEN")
        if not token:
            stored = _stored_login()
            token = stored.token if stored and stored.api_url == url.rstrip("/") else None
        if not token:
            raise PermissionDenied(
                "FIFTYOPS_API_URL is set but there is no token: run `fiftyops login` or set FIFTYOPS_API_TOKEN "
                "to a token from Airflow's /auth/token."
            )
        return RemoteLogin(url.rstrip("/"), token)
    return _stored_login()


def _stored_login() -> RemoteLogin | None:
    path = credentials_file()
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        return RemoteLogin(str(data["api_url"]).rstrip("/"), str(data["token"]))
    except (ValueError, KeyError, TypeError):
        raise RemoteError(f"{path} is not a login this version wrote; run `fiftyops login` again.") from None


def log_in(api_url: str, username: str, password: str) -> RemoteLogin:
    """Get a token from Airflow's ``/auth/token``, check it on the FiftyOps API, and store both
    (readable by the owner only).

    :param api_url: the Airflow api-server's base URL, e.g. ``http://airflow:8080``.
    :param username: the Airflow user.
    :param password: their password."""
    api_url = api_url.rstrip("/")
    try:
        response = requests.post(
            f"{api_url}/auth/token", json={"username": username, "password": password}, timeout=TIMEOUT_SECONDS
        )
    except requests.RequestException as exc:
        raise RemoteError(f"Cannot reach {api_url}: {exc}") from None
    if response.status_code >= 400:
        raise PermissionDenied(
            f"Airflow refused the login of {username!r} ({response.status_code}); check the name and password."
        )
    login = RemoteLogin(api_url, response.json()["access_token"])
    RemoteRuns(login).me()
    path = credentials_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"api_url": login.api_url, "token": login.token}, out)
    return login


def log_out() -> bool:
    """Forget the stored login; whether there was one."""
    path = credentials_file()
    if path.is_file():
        path.unlink()
        return True
    return False


def _document(raw: Mapping[str, Any]) -> DelegatedOperationDocument:
    return DelegatedOperationDocument.from_pymongo(dict(raw))


class RemoteRuns:
    """``RunActions``' methods over HTTP; the server decides what the token's user may do."""

    def __init__(self, login: RemoteLogin) -> None:
        """:param login: the API URL and token (``remote_login()``)."""
        self.base = login.api_url + API_PREFIX
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {login.token}"

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.session.request(method, self.base + path, timeout=TIMEOUT_SECONDS, **kwargs)
        except requests.RequestException as exc:
            raise RemoteError(f"Cannot reach the FiftyOps API at {self.base}: {exc}") from None
        if response.status_code < 400:
            return json_util.loads(response.text)
        try:
            detail = response.json().get("detail")
        except ValueError:
            detail = None
        if not isinstance(detail, str):
            detail = f"{response.status_code} {response.text[:300]}"
        if response.status_code == 401 or (response.status_code == 403 and "JWT" in detail):
            # Airflow's auth manager answers 403 "Invalid JWT token" for a bad or expired token
            raise PermissionDenied(f"The API refused the token ({detail}); run `fiftyops login` again.")
        if response.status_code == 403:
            raise PermissionDenied(detail)
        if response.status_code == 404:
            if path.startswith("/operations/"):
                raise OperationNotFound(path.split("/")[2])
            raise OperatorNotFound(detail)
        raise StoreError(detail)

    def me(self) -> dict[str, Any]:
        """Who the token belongs to: ``{name, role, is_admin}``."""
        return self._call("GET", "/me")

    def page(self, query: RunQuery | None = None) -> OperationPage:
        """See ``RunActions.page``."""
        data = self._call("GET", "/operations", params={"query": json.dumps(asdict(query or RunQuery()))})
        return OperationPage(
            [_document(raw) for raw in data["operations"]],
            data["total"],
            data["skip"],
            data["limit"],
            data["total_is_exact"],
        )

    def get(self, run_id: object) -> DelegatedOperationDocument:
        """See ``RunActions.get``."""
        return _document(self._call("GET", f"/operations/{run_id}")["operation"])

    def queue_position(self, run_id: object) -> int | None:
        """See ``RunActions.queue_position``."""
        return self._call("GET", f"/operations/{run_id}")["queue_position"]

    def log(self, run_id: object) -> tuple[str, bool]:
        """See ``RunActions.log``: the server's copy of the log (its file, else the stored tail)."""
        data = self._call("GET", f"/operations/{run_id}/log")
        return data["text"], data["complete"]

    def _change(self, run_id: object, action: str, body: dict[str, Any] | None = None) -> DelegatedOperationDocument:
        return _document(self._call("POST", f"/operations/{run_id}/{action}", json=body or {}))

    def terminate(self, run_id: object, reason: str | None = None) -> DelegatedOperationDocument:
        """See ``RunActions.terminate``."""
        return self._change(run_id, "terminate", {"reason": reason})

    def mark_failed(self, run_id: object, where: str = "the CLI") -> DelegatedOperationDocument:
        """See ``RunActions.mark_failed``."""
        return self._change(run_id, "mark-failed")

    def rerun(self, run_id: object) -> DelegatedOperationDocument:
        """See ``RunActions.rerun``: queued as the token's user."""
        return self._change(run_id, "rerun")

    def set_label(self, run_id: object, label: str) -> DelegatedOperationDocument:
        """See ``RunActions.set_label``."""
        return self._change(run_id, "label", {"label": label})

    def set_pinned(self, run_id: object, pinned: bool = True) -> DelegatedOperationDocument:
        """See ``RunActions.set_pinned``."""
        return self._change(run_id, "pin", {"pinned": pinned})

    def queue(
        self,
        operator: str,
        dataset: str | None = None,
        params: Mapping[str, Any] | None = None,
        label: str | None = None,
        delegation_target: str | None = None,
    ) -> DelegatedOperationDocument:
        """See ``RunActions.queue``: queued as the token's user, checked by the server."""
        body = {
            "operator": operator,
            "dataset": dataset,
            "params": dict(params or {}),
            "label": label,
            "delegation_target": delegation_target,
        }
        return _document(self._call("POST", "/operations", json=body))

    def delete(self, run_id: object) -> DelegatedOperationDocument:
        raise direct_mode_only("Deleting runs")

    def set_archived(self, run_id: object, archived: bool = True) -> DelegatedOperationDocument:
        raise direct_mode_only("Archiving runs")

    def cleanup(self, *args: Any, **kwargs: Any) -> int:
        raise direct_mode_only("Cleanup")


def direct_mode_only(what: str) -> PermissionDenied:
    """The refusal of a command remote mode does not offer (it needs the database: admins)."""
    return PermissionDenied(
        f"{what} is not offered in remote mode; an admin runs it in direct mode (FIFTYOPS_DATABASE_URI, "
        "no FIFTYOPS_API_URL)."
    )
