"""JSON shapes of runs for the pages: a row of the Runs table, the Run page, log entries.

Kept apart from the HTTP layer so what the pages show can be tested without a server.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fiftyops_provider.access.run_rules import can_change, is_admin
from fiftyops_provider.access.users import User
from fiftyops_provider.execution.logcapture import log_is_download_only
from fiftyops_provider.jsonable import jsonable
from fiftyops_provider.store import DelegatedOperationDocument

PLAIN_LOG_LINE = re.compile(
    r"^\[?(?P<timestamp>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d[^\s\]]*)\]?\s+"
    r"\{?[^}]*?\}?\s*(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL)\s*[-:]?\s*(?P<message>.*)$"
)
"""The executor's own format (``asctime levelname name: message``) and Airflow's plain one."""


def run_row(doc: DelegatedOperationDocument, user: User, queue_position: int | None = None) -> dict[str, Any]:
    """One row of the Runs table, with what the row's actions may offer this user."""
    status = doc.status
    result = doc.result
    return jsonable(
        {
            "id": doc.id,
            "operator": doc.operator,
            "label": doc.label,
            "run_state": doc.run_state.value,
            "queue_position": queue_position,
            "queued_by": doc.queued_by,
            "dataset_id": doc.dataset_id,
            "dataset_name": doc.dataset_name,
            "created_at": doc.created_at,
            "updated_at": doc.updated_at,
            "scheduled_at": doc.scheduled_at,
            "queued_at": doc.queued_at,
            "started_at": doc.started_at,
            "completed_at": doc.completed_at,
            "failed_at": doc.failed_at,
            "progress": status.progress if status else None,
            "progress_label": status.label if status else None,
            "pinned": doc.pinned,
            "run_link": doc.run_link,
            "attempt": doc.attempt,
            "error_message": result.error_message if result else None,
            "rerunnable": doc.rerunnable and doc.parent_id is None,
            "termination_requested": bool(doc.termination),
            "can_change": can_change(user, doc),
        }
    )


def run_detail(
    doc: DelegatedOperationDocument,
    user: User,
    children: list[DelegatedOperationDocument],
    queue_position: int | None = None,
) -> dict[str, Any]:
    """The Run page: the row plus inputs, outputs, errors, log facts, view and pipeline stages."""
    result = doc.result
    request = doc.request_params
    return {
        **run_row(doc, user, queue_position),
        "inputs": jsonable(doc.params),
        "inputs_schema": jsonable(doc.metadata.get("inputs_schema")),
        "outputs": jsonable(result.result if result else None),
        "outputs_schema": jsonable(doc.metadata.get("outputs_schema")),
        "error": result.error if result else None,
        "log_path": doc.log_path,
        "log_size": doc.log_size,
        "log_download_only": log_is_download_only(doc.log_size),
        "view": jsonable(
            {
                "dataset_name": request.get("dataset_name"),
                "dataset_id": request.get("dataset_id"),
                "view": request.get("view"),
                "selected": request.get("selected"),
            }
        ),
        "pipeline": jsonable(doc.pipeline),
        "stages": pipeline_stages(doc),
        "pipeline_run_info": jsonable(doc.pipeline_run_info),
        "children": [run_row(child, user) for child in children],
        "is_admin": is_admin(user),
    }


def pipeline_stages(doc: DelegatedOperationDocument) -> list[dict[str, Any]]:
    """The declared stages of a pipeline run (stored as ``{stages: [...]}`` or, by older
    writers, a bare list); empty for other runs."""
    raw = doc.pipeline.get("stages", []) if isinstance(doc.pipeline, dict) else doc.pipeline or []
    return [
        {
            "name": stage.get("name") or stage.get("operator_uri"),
            "operator": stage.get("operator_uri"),
            "always_run": bool(stage.get("always_run")),
            "params": jsonable(stage.get("params") or {}),
        }
        for stage in raw
        if isinstance(stage, dict)
    ]


def log_entries(text: str) -> list[dict[str, Any]]:
    """Log lines as ``{timestamp, level, message}``: Airflow's JSON lines, the executor's plain
    lines, and anything else as a message without timestamp or level."""
    entries = []
    for line in text.splitlines():
        if not line.strip():
            continue
        entries.append(_json_entry(line) or _plain_entry(line))
    return entries


def _json_entry(line: str) -> dict[str, Any] | None:
    if not line.startswith("{"):
        return None
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict) or "event" not in record:
        return None
    level = record.get("level")
    return {
        "timestamp": record.get("timestamp"),
        "level": level.upper() if isinstance(level, str) else None,
        "message": str(record["event"]),
    }


def _plain_entry(line: str) -> dict[str, Any]:
    match = PLAIN_LOG_LINE.match(line)
    if match is None:
        return {"timestamp": None, "level": None, "message": line}
    return {"timestamp": match["timestamp"], "level": match["level"], "message": match["message"]}
