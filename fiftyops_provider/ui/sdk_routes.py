"""The API of remote mode (``fiftyops_provider.remote``): the SDK and CLI of people who are not
admins reach runs here, as the user Airflow's auth manager authenticated.

Runs are answered as MongoDB Extended JSON documents (the SDK rebuilds the same
``DelegatedOperationDocument`` it returns in direct mode), without the executor's claim token.
Every check is ``RunActions``' (``access.run_rules``). Requests carry a Bearer token and JSON
bodies (``{}`` when an action takes no fields); the routes share the pages' guard against
cross-site requests (``ui.request_guard``). Queueing imports the operator's plugin to resolve
its inputs, so it runs in a child process (``cli_child``), never in the api-server.
"""

from __future__ import annotations

import json
from typing import Any

from bson import json_util
from fastapi import APIRouter, Depends
from fastapi.responses import Response
from pydantic import BaseModel, Field

from fiftyops_provider.run_actions import RunActions, RunQuery
from fiftyops_provider.store import DelegatedOperationDocument
from fiftyops_provider.ui.cli_child import run_cli
from fiftyops_provider.ui.routes import (
    JSON_BODY,
    EmptyBody,
    LabelBody,
    PinBody,
    TerminateBody,
    backend,
    run_actions,
    same_site_only,
)

QUEUE_TIMEOUT_SECONDS = 60.0
HIDDEN_FIELDS = ("claim_token",)

sdk_router = APIRouter(prefix="/api/operations", dependencies=[Depends(same_site_only)])


def _extended_json(value: Any) -> Response:
    return Response(json_util.dumps(value), media_type="application/json")


def _document(doc: DelegatedOperationDocument) -> dict[str, Any]:
    raw = doc.to_pymongo()
    for name in HIDDEN_FIELDS:
        raw.pop(name, None)
    return raw


class QueueBody(BaseModel):
    operator: str = Field(max_length=1000)
    dataset: str | None = Field(None, max_length=1000)
    params: dict[str, Any] = Field(default_factory=dict)
    label: str | None = Field(None, max_length=1000)
    delegation_target: str | None = Field(None, max_length=1000)


@sdk_router.get("")
def list_operations(query: str = "{}", runs: RunActions = Depends(run_actions)) -> Response:
    """A page of runs; ``query`` is a ``RunQuery`` as JSON."""
    page = runs.page(RunQuery.from_json(query))
    return _extended_json(
        {
            "operations": [_document(doc) for doc in page.items],
            "total": page.total,
            "total_is_exact": page.total_is_exact,
            "skip": page.skip,
            "limit": page.limit,
        }
    )


@sdk_router.post("", dependencies=JSON_BODY)
async def queue_operation(body: QueueBody, runs: RunActions = Depends(run_actions)) -> Response:
    """``delegate()`` as the caller, with all its checks, in a child process."""
    b = backend()
    # Values ride in ``--flag=value`` and the operator after ``--``, so no value the caller sends
    # can become an option of the command (``--user`` would queue as someone else).
    args = ["queue", "--params-json=-"]
    for flag, value in (("--dataset", body.dataset), ("--label", body.label), ("--target", body.delegation_target)):
        if value:
            args.append(f"{flag}={value}")
    args += ["--", body.operator]
    queued = await run_cli(
        args,
        runs.user.name,
        b.client_uri,
        b.db.name,
        QUEUE_TIMEOUT_SECONDS,
        f"Queueing took longer than {QUEUE_TIMEOUT_SECONDS:.0f} s and was stopped; the operator's input "
        "resolution may hang: ask its plugin's author.",
        stdin=json.dumps(body.params).encode(),
    )
    return _extended_json(_document(runs.get(queued["id"])))


@sdk_router.get("/{run_id}")
def get_operation(run_id: str, runs: RunActions = Depends(run_actions)) -> Response:
    doc = runs.get(run_id)
    return _extended_json({"operation": _document(doc), "queue_position": runs.queue_position(doc.id)})


@sdk_router.get("/{run_id}/log")
def get_operation_log(run_id: str, runs: RunActions = Depends(run_actions)) -> dict[str, Any]:
    text, complete = runs.log(run_id)
    return {"text": text, "complete": complete}


@sdk_router.post("/{run_id}/terminate", dependencies=JSON_BODY)
def terminate_operation(run_id: str, body: TerminateBody, runs: RunActions = Depends(run_actions)) -> Response:
    return _extended_json(_document(runs.terminate(run_id, body.reason or "terminated from the SDK")))


@sdk_router.post("/{run_id}/mark-failed", dependencies=JSON_BODY)
def mark_operation_failed(run_id: str, body: EmptyBody, runs: RunActions = Depends(run_actions)) -> Response:
    return _extended_json(_document(runs.mark_failed(run_id, "the SDK")))


@sdk_router.post("/{run_id}/rerun", dependencies=JSON_BODY)
def rerun_operation(run_id: str, body: EmptyBody, runs: RunActions = Depends(run_actions)) -> Response:
    return _extended_json(_document(runs.rerun(run_id)))


@sdk_router.post("/{run_id}/label", dependencies=JSON_BODY)
def label_operation(run_id: str, body: LabelBody, runs: RunActions = Depends(run_actions)) -> Response:
    return _extended_json(_document(runs.set_label(run_id, body.label)))


@sdk_router.post("/{run_id}/pin", dependencies=JSON_BODY)
def pin_operation(run_id: str, body: PinBody, runs: RunActions = Depends(run_actions)) -> Response:
    return _extended_json(_document(runs.set_pinned(run_id, body.pinned)))
