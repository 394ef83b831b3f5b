"""The HTTP API behind the Runs, Run and Plugins pages, mounted in the Airflow api-server.

Every endpoint resolves the caller from Airflow's session (``get_user``: the ``_token`` cookie
the Airflow UI sets, or a Bearer token) and checks FiftyOps permissions itself; the store and the
registry are reached through the ``fiftyops_default`` connection, as the DAGs do.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from airflow.api_fastapi.core_api.security import get_user
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field
from pymongo.database import Database

from fiftyops_provider.access import run_rules as access
from fiftyops_provider.access.org_settings import get_organization_settings, update_organization_settings
from fiftyops_provider.access.permissions import DatasetPermission, Role
from fiftyops_provider.access.users import User, UserStore
from fiftyops_provider.datasets.catalog import list_datasets
from fiftyops_provider.execution.logcapture import log_is_download_only
from fiftyops_provider.hooks.fiftyops import FiftyOpsHook
from fiftyops_provider.plugins.errors import OperatorNotFound, PermissionDenied, PluginError, PluginNotFound
from fiftyops_provider.plugins.registry import PluginRegistry
from fiftyops_provider.run_actions import RunActions, read_log
from fiftyops_provider.store import DelegatedOperationService, OperationNotFound, SortByField
from fiftyops_provider.store.errors import StoreError
from fiftyops_provider.store.query import SORT_PRESETS
from fiftyops_provider.ui.identity import fiftyops_user
from fiftyops_provider.ui.plugin_upload import MAX_UPLOAD_BYTES, install_uploaded_plugin
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


@lru_cache(maxsize=1)
def backend() -> Backend:
    hook = FiftyOpsHook()
    db = hook.get_database()
    return Backend(db, hook.client_uri, hook.get_service(), PluginRegistry(db), UserStore(db))


def current_user(airflow_user: Any = Depends(get_user)) -> User:
    return fiftyops_user(backend().users, airflow_user)


def error_status(exc: Exception) -> int:
    if isinstance(exc, PermissionDenied):
        return 403
    if isinstance(exc, (OperationNotFound, PluginNotFound, OperatorNotFound)):
        return 404
    return 400


async def handle_domain_error(request: Request, exc: Exception) -> JSONResponse:
    """Domain errors carry a message that tells the user what to do: pass it on as ``detail``."""
    return JSONResponse({"detail": str(exc)}, status_code=error_status(exc))


DOMAIN_ERRORS = (StoreError, PluginError)

router = APIRouter(prefix="/api")


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
    return {re.escape(text): ["operator", "label"]} if with_label else text


def _listing_filters(user: User, mine: bool, dataset_id: str | None, state: list[str] | None) -> dict[str, Any]:
    filters = access.run_filters(user, mine, dataset_id)
    if state:
        filters["run_state"] = state
    return filters


def _row(service: DelegatedOperationService, doc: Any, user: User) -> dict[str, Any]:
    return run_row(
        doc, user, service.get_queue_position(doc.id) if doc.run_state.value in ("scheduled", "queued") else None
    )


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
    position = service.get_queue_position(doc.id) if doc.run_state.value in ("scheduled", "queued") else None
    return run_detail(doc, user, children, position)


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


@router.post("/runs/{doc_id}/rerun")
def rerun(doc_id: str, runs: RunActions = Depends(run_actions)) -> dict[str, Any]:
    """A new run with the same inputs, queued by the caller, who must be allowed to run it now."""
    return run_row(runs.rerun(doc_id), runs.user)


@router.post("/runs/{doc_id}/pin")
def pin(doc_id: str, body: PinBody, runs: RunActions = Depends(run_actions)) -> dict[str, Any]:
    return run_row(runs.set_pinned(doc_id, body.pinned), runs.user)


@router.post("/runs/{doc_id}/label")
def label(doc_id: str, body: LabelBody, runs: RunActions = Depends(run_actions)) -> dict[str, Any]:
    return run_row(runs.set_label(doc_id, body.label), runs.user)


@router.post("/runs/{doc_id}/terminate")
def terminate(doc_id: str, body: TerminateBody, runs: RunActions = Depends(run_actions)) -> dict[str, Any]:
    return run_row(runs.terminate(doc_id, body.reason or "terminated from the Runs page"), runs.user)


@router.post("/runs/{doc_id}/mark-failed")
def mark_failed(doc_id: str, runs: RunActions = Depends(run_actions)) -> dict[str, Any]:
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


class PluginNameBody(BaseModel):
    name: str


class OrganizationSettingsBody(BaseModel):
    default_operator_minimum_role: str | None = None
    default_operator_minimum_dataset_permission: str | None = None


@router.get("/plugins")
def plugins(user: User = Depends(current_user)) -> dict[str, Any]:
    """Installed plugins for everyone; ``can_manage`` tells the page whether to offer changes."""
    return {
        "plugins": backend().registry.list_plugins(),
        "can_manage": access.is_admin(user),
        "roles": list(Role.__members__),
        "dataset_permissions": list(DatasetPermission.__members__),
    }


@router.post("/plugins")
async def upload_plugin(
    request: Request, overwrite: bool = False, user: User = Depends(current_user)
) -> dict[str, Any]:
    """Install (``overwrite=true``: upgrade) a plugin from the ZIP sent as the request body."""
    access.require_admin(user)
    data = await request.body()
    if len(data) > MAX_UPLOAD_BYTES:
        raise PluginError(f"The upload is {len(data)} bytes; plugin ZIPs are limited to {MAX_UPLOAD_BYTES} bytes.")
    b = backend()
    return await install_uploaded_plugin(data, overwrite, user.name, b.client_uri, b.db.name)


@router.post("/plugins/uninstall")
def uninstall_plugin(body: PluginNameBody, user: User = Depends(current_user)) -> dict[str, Any]:
    backend().registry.uninstall(body.name, acting_user=user.name)
    return {"uninstalled": body.name}


@router.post("/plugins/enabled")
def set_plugin_enabled(body: PluginEnabledBody, user: User = Depends(current_user)) -> dict[str, Any]:
    return backend().registry.set_enabled(body.name, body.enabled, acting_user=user.name)


@router.post("/plugins/operator")
def set_operator(body: OperatorSettingsBody, user: User = Depends(current_user)) -> dict[str, Any]:
    return backend().registry.set_operator(
        body.name,
        body.operator,
        body.enabled,
        body.minimum_role,
        body.minimum_dataset_permission,
        acting_user=user.name,
    )


def _settings_json(settings: Any) -> dict[str, str]:
    return {key: value.name for key, value in asdict(settings).items()}


@router.get("/org-settings")
def org_settings(user: User = Depends(current_user)) -> dict[str, str]:
    return _settings_json(get_organization_settings(backend().db))


@router.put("/org-settings")
def put_org_settings(body: OrganizationSettingsBody, user: User = Depends(current_user)) -> dict[str, str]:
    access.require_admin(user)
    return _settings_json(
        update_organization_settings(
            backend().db, body.default_operator_minimum_role, body.default_operator_minimum_dataset_permission
        )
    )
