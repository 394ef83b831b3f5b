"""The operation document and its parts, field-compatible with FiftyOne's ``delegated_ops``.

Serialization follows FiftyOne's rules: every field is written, ``None`` as an explicit null;
``context`` is ``{"request_params": {...}}`` (never null, ``params`` always a dict); ``pipeline``
and ``pipeline_run_info`` are omitted when empty; dates are naive UTC. FiftyOps' own fields
(``queued_by``, ``attempt``, ``claim_token``, ``heartbeat_at``, ``termination``, ...) are extra
keys that FiftyOne ignores and preserves.
"""

from __future__ import annotations

import copy
import traceback
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId

from fiftyops_provider.store.states import ExecutionRunState

COLLECTION_NAME = "delegated_ops"


def utcnow() -> datetime:
    """Naive UTC at millisecond precision: what BSON stores, so a round trip compares equal."""
    now = datetime.now(UTC).replace(tzinfo=None)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


@dataclass
class ExecutionProgress:
    """``status`` on the document: a 0..1 fraction and/or a label."""

    progress: float | None = None
    label: str | None = None
    updated_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {"progress": self.progress, "label": self.label, "updated_at": self.updated_at}

    @classmethod
    def from_json(cls, value: Any) -> ExecutionProgress | None:
        if not isinstance(value, dict):
            return None
        return cls(value.get("progress"), value.get("label"), value.get("updated_at"))


@dataclass
class ExecutionResult:
    """``result`` on the document. ``outputs_schema`` is stored in ``metadata.outputs_schema``."""

    result: Any = None
    executor: Any = None
    error: str | None = None
    error_message: str | None = None
    delegated: bool = True
    validation_ctx: Any = None
    outputs_schema: Any = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("outputs_schema")
        return data

    @classmethod
    def from_json(cls, value: Any) -> ExecutionResult | None:
        if not isinstance(value, dict):
            return None
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in value.items() if k in known})

    @classmethod
    def from_exception(cls, exc: BaseException, message: str | None = None) -> ExecutionResult:
        """A failed result carrying the full traceback, as FiftyOne's Errors tab expects."""
        trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return cls(error=trace, error_message=message or f"{type(exc).__name__}: {exc}")

    @property
    def failed(self) -> bool:
        return bool(self.error)


@dataclass
class DelegatedOperationDocument:
    """One delegated operation. ``id`` is the MongoDB ``_id`` (the run id)."""

    operator: str
    label: str
    delegation_target: str | None = None
    context: dict[str, Any] = field(default_factory=lambda: {"request_params": {"params": {}}})
    run_state: ExecutionRunState = ExecutionRunState.SCHEDULED
    queued_at: datetime | None = None
    scheduled_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    failed_at: datetime | None = None
    updated_at: datetime | None = None
    status: ExecutionProgress | None = None
    result: ExecutionResult | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    dataset_id: ObjectId | None = None
    pinned: bool = False
    run_link: str | None = None
    log_path: str | None = None
    log_size: int | None = None
    log_tail: str | None = None
    log_upload_error: str | None = None
    monitored: bool = False
    archived: bool = False
    rerunnable: bool = True
    parent_id: ObjectId | None = None
    pipeline: dict[str, Any] | None = None
    pipeline_run_info: dict[str, Any] | None = None
    # FiftyOps fields (ignored and preserved by FiftyOne)
    queued_by: str | None = None
    attempt: int = 0
    claim_token: str | None = None
    heartbeat_at: datetime | None = None
    termination: dict[str, Any] | None = None
    rerun_of: ObjectId | None = None
    dispatch: dict[str, Any] | None = None
    execution_timeout: float | None = None
    id: ObjectId | None = None

    OMITTED_WHEN_EMPTY = ("pipeline", "pipeline_run_info")

    @property
    def request_params(self) -> dict[str, Any]:
        return self.context.setdefault("request_params", {})

    @property
    def params(self) -> dict[str, Any]:
        return self.request_params.get("params") or {}

    @property
    def dataset_name(self) -> str | None:
        return self.request_params.get("dataset_name")

    @property
    def created_at(self) -> datetime | None:
        """Derived from the ObjectId: the Runs page's "most recent" order is ``_id`` order."""
        return self.id.generation_time.replace(tzinfo=None) if self.id else None

    @property
    def is_terminal(self) -> bool:
        return self.run_state in (ExecutionRunState.COMPLETED, ExecutionRunState.FAILED)

    def to_pymongo(self) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "id":
                continue
            value = getattr(self, f.name)
            if f.name in self.OMITTED_WHEN_EMPTY and not value:
                continue
            if isinstance(value, (ExecutionProgress, ExecutionResult)):
                value = value.to_json()
            elif isinstance(value, ExecutionRunState):
                value = value.value
            doc[f.name] = copy.deepcopy(value)
        if self.id is not None:
            doc["_id"] = self.id
        return doc

    @classmethod
    def from_pymongo(cls, doc: dict[str, Any]) -> DelegatedOperationDocument:
        """Tolerant of documents written by FiftyOne or older versions (missing keys get defaults)."""
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in doc.items() if k in known and k != "id"}
        kwargs.setdefault("operator", "")
        kwargs.setdefault("label", kwargs["operator"])
        context = kwargs.get("context")
        if not isinstance(context, dict) or not isinstance(context.get("request_params"), dict):
            kwargs["context"] = {"request_params": {"params": {}}}
        state = kwargs.get("run_state")
        try:
            kwargs["run_state"] = ExecutionRunState(state)
        except ValueError:
            kwargs["run_state"] = ExecutionRunState.QUEUED
        kwargs["status"] = ExecutionProgress.from_json(doc.get("status"))
        kwargs["result"] = ExecutionResult.from_json(doc.get("result"))
        for flag, default in (("pinned", False), ("monitored", False), ("archived", False), ("rerunnable", True)):
            if kwargs.get(flag) is None:
                kwargs[flag] = default
        kwargs["metadata"] = kwargs.get("metadata") or {}
        kwargs["attempt"] = kwargs.get("attempt") or 0
        return cls(id=doc.get("_id", doc.get("id")), **kwargs)
