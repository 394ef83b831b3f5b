"""The HTTP API behind the Runs, Run and Plugins pages, mounted in the Airflow api-server.

Every endpoint resolves the caller from Airflow's session (``get_user``: the ``_token`` cookie
the Airflow UI sets, or a Bearer token), checks that the account still exists, and checks
FiftyOps permissions itself; state changes also pass ``request_guard`` (no cross-site requests, a
declared body type). Paging and search values are bounded by the store, so bad input is a 400
with a one-line message, never a server error. The store and the registry are reached through the
``fiftyops_default`` connection, as the DAGs do.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager
from airflow.configuration import conf
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field
from pymongo.database import Database

from fiftyops_provider.access import run_rules as access
from fiftyops_provider.access.org_settings import get_organization_settings, update_organization_settings
from fiftyops_provider.access.permissions import DatasetPermission, Role
from fiftyops_provider.access.users import User, UserStore
from fiftyops_provider.airflow_compat import simple_auth_manager_names, ui_user_dependency
from fiftyops_provider.datasets.catalog import list_datasets
from fiftyops_provider.execution.fiftyone_runtime import FiftyOneRuntimeError
from fiftyops_provider.execution.logcapture import log_is_download_only
from fiftyops_provider.hooks.fiftyops import FiftyOpsHook
from fiftyops_provider.plugins.errors import OperatorNotFound, PermissionDenied, PluginError, PluginNotFound
from fiftyops_provider.plugins.registry import PluginRegistry
from fiftyops_provider.run_actions import RunActions, read_log, visible_queue_position
from fiftyops_provider.store import DelegatedOperationService, OperationNotFound, SortByField
from fiftyops_provider.store.errors import StoreError
from fiftyops_provider.store.query import SORT_PRESETS, LiteralSearch
from fiftyops_provider.ui.identity import AccountDirectory, AccountRemoved, fiftyops_user, retire_removed_accounts
from fiftyops_provider.ui.plugin_upload import MAX_UPLOAD_BYTES, install_uploaded_plugin
from fiftyops_provider.ui.request_guard import cross_site_refusal, require_json, require_upload
from fiftyops_provider.ui.views import log_entries, run_detail, run_row

PINNED_PANEL_LIMIT = 50


@dataclass
class Backend:
    """One MongoDB client per api-server worker, shared by all requests."""

    db: Database
    client_uri: str
    service: DelegatedOperationService
    registry: PluginRegistry
    users: UserStore
    accounts: AccountDirectory


def airflow_account_names() -> set[str] | None:
    """The accounts of the simple auth manager (read from its configuration). None for other auth
    managers: FiftyOps cannot list their accounts, and relies on their own checks of a token."""
    auth_manager = get_auth_manager()
    if not isinstance(auth_manager, SimpleAuthManager) or conf.getboolean(
        "core", "simple_auth_manager_all_admins", fallback=False
    ):
        return None
    return simple_auth_manager_names(auth_manager)


@lru_cache(maxsize=1)
def backend() -> Backend:
    """Built on the first request; it retires the FiftyOps records of accounts removed from the
    auth manager since (the simple auth manager's accounts change only with a restart)."""
    hook = FiftyOpsHook()
    db = hook.get_database()
    users = UserStore(db)
    accounts = AccountDirectory(airflow_account_names)
    retire_removed_accounts(users, accounts)
    return Backend(db, hook.client_uri, hook.get_service(), PluginRegistry(db), users, accounts)


airflow_user_of_request = ui_user_dependency()


def current_user(airflow_user: Any = Depends(airflow_user_of_request)) -> User:
    b = backend()
    return fiftyops_user(b.users, airflow_user, b.accounts)


def same_site_only(request: Request) -> None:
    """Every route's guard: state changes must not come from another site (``request_guard``)."""
    refusal = cross_site_refusal(request, [conf.get("api", "base_url", fallback="")])
    if refusal is not None:
        raise HTTPException(403, refusal)


def error_status(exc: Exception) -> int:
    if isinstance(exc, AccountRemoved):
        return 401
    if isinstance(exc, PermissionDenied):
        return 403
    if isinstance(exc, (OperationNotFound, PluginNotFound, OperatorNotFound)):
        return 404
    return 400


async def handle_domain_error(request: Request, exc: Exception) -> JSONResponse:
    """Domain errors carry a message that tells the user what to do: pass it on as ``detail``."""
    return JSONResponse({"detail": str(exc)}, status_code=error_status(exc))


DOMAIN_ERRORS = (StoreError, PluginError)

router = APIRouter(prefix="/api", dependencies=[Depends(same_site_only)])
JSON_BODY = [Depends(require_json)]


# -- who and where -------------------------------------------------------------------------------
@router.get("/me")
def me(user: User = Depends(current_user)) -> dict[str, Any]:
    return {"name": user.name, "role": user.role.name, "is_admin": access.is_admin(user)}


@router.get("/datasets")
def datasets(user: User = Depends(current_user)) -> list[dict[str, str]]:
    """The datasets this user may list runs of."""
    return [
        {"id": d.id, "name": d.name}
        for d in list_datasets(backend().db)
        if user.dataset_permission(d.id) >= DatasetPermission.VIEW
    ]


# -- runs ----------------------------------------------------------------------------------------
def _search(text: str | None, with_label: bool) -> Any:
    """Case-sensitive literal search: over the operator URI, and the label when asked."""
    if not text:
        return None
    return LiteralSearch(text, ("operator", "label") if with_label else ("operator",))


def _listing_filters(user: User, mine: bool, dataset_id: str | None, state: list[str] | None) -> dict[str, Any]:
    filters = access.run_filters(user, mine, dataset_id)
    if state:
        filters["run_state"] = state
    return filters


def _row(service: DelegatedOperationService, doc: Any, user: User) -> dict[str, Any]:
    return run_row(doc, user, visible_queue_position(service, user, doc))


@router.get("/runs")
def list_runs(
    user: User = Depends(current_user),
    mine: bool = False,
    dataset_id: str | None = None,
    state: list[str] | None = Query(None),
    search: str | None = None,
    search_label: bool = False,
    sort: str = "recent",
    skip: int = 0,
    limit: int = 20,
) -> dict[str, Any]:
    if sort not in SORT_PRESETS:
        raise StoreError(f"Unknown sort {sort!r}; use one of: {', '.join(SORT_PRESETS)}.")
    sort_by, direction = SORT_PRESETS[sort]
    service = backend().service
    page = service.page_operations(
        paging={"sort_by": sort_by, "sort_direction": direction, "skip": skip, "limit": limit},
        search=_search(search, search_label),
        **_listing_filters(user, mine, dataset_id, state),
    )
    return {
        "items": [_row(service, doc, user) for doc in page.items],
        "total": page.total,
        "total_is_exact": page.total_is_exact,
        "skip": page.skip,
        "limit": page.limit,
    }


@router.get("/runs/pinned")
def pinned_runs(
    user: User = Depends(current_user), mine: bool = False, dataset_id: str | None = None
) -> list[dict[str, Any]]:
    service = backend().service
    docs = service.list_operations(
        pinned=True,
        paging={"sort_by": SortByField.UPDATED_AT, "sort_direction": -1, "limit": PINNED_PANEL_LIMIT},
        **access.run_filters(user, mine, dataset_id),
    )
    return [run_row(doc, user) for doc in docs]


def _visible(doc_id: str, user: User) -> Any:
    doc = backend().service.get(doc_id)
    access.require_view(user, doc)
    return doc


@router.get("/runs/{doc_id}")
def get_run(doc_id: str, user: User = Depends(current_user)) -> dict[str, Any]:
    service = backend().service
    doc = _visible(doc_id, user)
    children = (
        service.list_operations(
            parent_id=doc.id, paging={"sort_by": SortByField.CREATED_AT, "sort_direction": 1, "limit": 1000}
        )
        if doc.pipeline
        else []
    )
    return run_detail(doc, user, children, visible_queue_position(service, user, doc))


@router.get("/runs/{doc_id}/logs")
def get_logs(doc_id: str, user: User = Depends(current_user)) -> dict[str, Any]:
    """The Logs tab: entries while the log is small enough to show, else only a download."""
    doc = _visible(doc_id, user)
    if log_is_download_only(doc.log_size):
        return {
            "entries": [],
            "download_only": True,
            "complete": False,
            "log_size": doc.log_size,
            "running": not doc.is_terminal,
        }
    text, complete = read_log(doc, lambda: backend().service.stored_log(doc.id))
    return {
        "entries": log_entries(text),
        "download_only": False,
        "complete": complete,
        "log_size": doc.log_size,
        "running": not doc.is_terminal,
    }


@router.get("/runs/{doc_id}/logs/download")
def download_logs(doc_id: str, user: User = Depends(current_user)) -> PlainTextResponse:
    doc = _visible(doc_id, user)
    text, _ = read_log(doc, lambda: backend().service.stored_log(doc.id))
    return PlainTextResponse(text, headers={"Content-Disposition": f'attachment; filename="{doc.id}.log"'})


class PinBody(BaseModel):
    pinned: bool


class LabelBody(BaseModel):
    label: str = Field(max_length=1000)


class TerminateBody(BaseModel):
    reason: str | None = Field(None, max_length=1000)


def run_actions(user: User = Depends(current_user)) -> RunActions:
    """The caller's runs under ``access.run_rules``, the same class the CLI and SDK use."""
    b = backend()
    return RunActions(b.db, user, b.service, b.registry)


class EmptyBody(BaseModel):
    """The body of an action that takes no fields: ``{}``."""


@router.post("/runs/{doc_id}/rerun", dependencies=JSON_BODY)
def rerun(doc_id: str, body: EmptyBody, runs: RunActions = Depends(run_actions)) -> dict[str, Any]:
    """A new run with the same inputs, queued by the caller, who must be allowed to run it now."""
    return run_row(runs.rerun(doc_id), runs.user)


@router.post("/runs/{doc_id}/pin", dependencies=JSON_BODY)
def pin(doc_id: str, body: PinBody, runs: RunActions = Depends(run_actions)) -> dict[str, Any]:
    return run_row(runs.set_pinned(doc_id, body.pinned), runs.user)


@router.post("/runs/{doc_id}/label", dependencies=JSON_BODY)
def label(doc_id: str, body: LabelBody, runs: RunActions = Depends(run_actions)) -> dict[str, Any]:
    return run_row(runs.set_label(doc_id, body.label), runs.user)


@router.post("/runs/{doc_id}/terminate", dependencies=JSON_BODY)
def terminate(doc_id: str, body: TerminateBody, runs: RunActions = Depends(run_actions)) -> dict[str, Any]:
    return run_row(runs.terminate(doc_id, body.reason or "terminated from the Runs page"), runs.user)


@router.post("/runs/{doc_id}/mark-failed", dependencies=JSON_BODY)
def mark_failed(doc_id: str, body: EmptyBody, runs: RunActions = Depends(run_actions)) -> dict[str, Any]:
    """Fail the run in the store now. A running task is told through the store and stops at its
    next heartbeat; if it cannot be reached, the external work may go on: the page warns."""
    return run_row(runs.mark_failed(doc_id, "the Runs page"), runs.user)


# -- plugins -------------------------------------------------------------------------------------
class PluginEnabledBody(BaseModel):
    name: str
    enabled: bool


class OperatorSettingsBody(BaseModel):
    name: str
    operator: str
    enabled: bool | None = None
    minimum_role: str | None = None
    minimum_dataset_permission: str | None = None
    execution_timeout: float | None = None  # these three: a FiftyOne plugin's operators only
    on_reset: str | None = None
    max_attempts: int | None = None


class PluginNameBody(BaseModel):
    name: str


class OrganizationSettingsBody(BaseModel):
    default_operator_minimum_role: str | None = None
    default_operator_minimum_dataset_permission: str | None = None


@router.get("/plugins")
def plugins(user: User = Depends(current_user)) -> dict[str, Any]:
    """Installed plugins for everyone; ``can_manage`` tells the page whether to offer changes.
    ``fiftyone_operators``: FiftyOne's own delegable operators (builtins) with their settings,
    which admins change like an installed operator's (``/plugins/operator``), when a FiftyOne
    interpreter is configured (``fiftyone_error`` says why they cannot be listed)."""
    registry = backend().registry
    plugins = registry.list_plugins()
    try:
        fiftyone, fiftyone_error = registry.fiftyone_operators(), None
    except FiftyOneRuntimeError as exc:
        fiftyone, fiftyone_error = [], str(exc)
    return {
        "plugins": plugins,
        "fiftyone_operators": [asdict(info) for info in fiftyone],
        "fiftyone_error": fiftyone_error,
        "can_manage": access.is_admin(user),
        "roles": list(Role.__members__),
        "dataset_permissions": list(DatasetPermission.__members__),
    }


async def _uploaded_zip(request: Request) -> bytes:
    """The ZIP of an upload: the body itself, or the ``file`` field of a multipart form."""
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        return await request.body()
    async with request.form(max_files=1, max_fields=1, max_part_size=MAX_UPLOAD_BYTES) as form:
        file = form.get("file")
        if file is None or isinstance(file, str):
            raise PluginError("The multipart form has no 'file' field; send the plugin ZIP as 'file'.")
        return await file.read()


@router.post("/plugins", dependencies=[Depends(require_upload)])
async def upload_plugin(
    request: Request, overwrite: bool = False, user: User = Depends(current_user)
) -> dict[str, Any]:
    """Install (``overwrite=true``: upgrade) a plugin from an uploaded ZIP (``application/zip``
    body, or the ``file`` field of a multipart form)."""
    access.require_admin(user)
    data = await _uploaded_zip(request)
    if len(data) > MAX_UPLOAD_BYTES:
        raise PluginError(f"The upload is {len(data)} bytes; plugin ZIPs are limited to {MAX_UPLOAD_BYTES} bytes.")
    b = backend()
    return await install_uploaded_plugin(data, overwrite, user.name, b.client_uri, b.db.name)


@router.post("/plugins/uninstall", dependencies=JSON_BODY)
def uninstall_plugin(body: PluginNameBody, user: User = Depends(current_user)) -> dict[str, Any]:
    backend().registry.uninstall(body.name, acting_user=user.name)
    return {"uninstalled": body.name}


@router.post("/plugins/enabled", dependencies=JSON_BODY)
def set_plugin_enabled(body: PluginEnabledBody, user: User = Depends(current_user)) -> dict[str, Any]:
    return backend().registry.set_enabled(body.name, body.enabled, acting_user=user.name)


@router.post("/plugins/operator", dependencies=JSON_BODY)
def set_operator(body: OperatorSettingsBody, user: User = Depends(current_user)) -> dict[str, Any]:
    return backend().registry.set_operator(
        body.name,
        body.operator,
        body.enabled,
        body.minimum_role,
        body.minimum_dataset_permission,
        acting_user=user.name,
        execution_timeout=body.execution_timeout,
        on_reset=body.on_reset,
        max_attempts=body.max_attempts,
    )


def _settings_json(settings: Any) -> dict[str, str]:
    return {key: value.name for key, value in asdict(settings).items()}


@router.get("/org-settings")
def org_settings(user: User = Depends(current_user)) -> dict[str, str]:
    return _settings_json(get_organization_settings(backend().db))


@router.put("/org-settings", dependencies=JSON_BODY)
def put_org_settings(body: OrganizationSettingsBody, user: User = Depends(current_user)) -> dict[str, str]:
    access.require_admin(user)
    return _settings_json(
        update_organization_settings(
            backend().db, body.default_operator_minimum_role, body.default_operator_minimum_dataset_permission
        )
    )
