"""``delegate()``: the user-facing call that queues a delegated operation.

Every check happens before anything is written: the operator exists, is enabled and allows
delegated execution; the user's role and dataset permission meet the operator's minimums; the
params match the operator's declared inputs. A refusal raises and leaves the store untouched.
"""

from __future__ import annotations

from typing import Any, Mapping

from pymongo.database import Database

from fiftyops_provider.config import load_settings
from fiftyops_provider.plugins.context import ExecutionContext
from fiftyops_provider.plugins.datasets import Dataset, load_dataset
from fiftyops_provider.plugins.errors import InvalidParams
from fiftyops_provider.plugins.operator import PipelineOperator
from fiftyops_provider.plugins.registry import PluginRegistry
from fiftyops_provider.store import DelegatedOperationDocument, DelegatedOperationService, MongoDelegatedOperationRepo


def delegate(
    operator_uri: str,
    dataset: Dataset | str | None = None,
    params: Mapping[str, Any] | None = None,
    user: str | None = None,
    label: str | None = None,
    delegation_target: str | None = None,
    *,
    db: Database | None = None,
) -> DelegatedOperationDocument:
    """Queue ``operator_uri`` on ``dataset`` (a Dataset or its name) with ``params`` as ``user``
    (default ``FIFTYOPS_USER``). Returns the queued operation (state ``scheduled``)."""
    if db is None:
        from fiftyops_provider.database import get_database

        db = get_database()
    user = user or load_settings().user
    registry = PluginRegistry(db)
    ds = dataset if isinstance(dataset, Dataset) else (load_dataset(db, None, dataset) if dataset else None)
    dataset_id, dataset_name = (ds.id, ds.name) if ds is not None else (None, None)
    registry.check_runnable(operator_uri, user, dataset_id, dataset_name)
    operator = registry.load_operator(operator_uri)
    if params is not None and not isinstance(params, Mapping):
        raise InvalidParams([("params", "must be a dict of input values")])
    request_params: dict[str, Any] = {
        "dataset_name": dataset_name,
        "dataset_id": dataset_id,
        "params": dict(params or {}),
    }
    ctx = ExecutionContext(request_params, user=user)
    inputs = operator.resolve_input(ctx)
    if inputs is not None:
        request_params["params"] = inputs.validate(params)
    elif params:
        raise InvalidParams([(name, f"{operator_uri} takes no inputs") for name in params])
    pipeline = None
    if isinstance(operator, PipelineOperator):
        pipeline = operator.resolve_pipeline(ExecutionContext(request_params, user=user))
        for stage in pipeline.stages:
            registry.check_runnable(stage.operator_uri, user, request_params["dataset_id"], request_params["dataset_name"])
            if stage.rerunnable is None:
                stage.rerunnable = registry.load_operator(stage.operator_uri).config.rerunnable
    service = DelegatedOperationService(MongoDelegatedOperationRepo(db))
    return service.queue_operation(
        operator_uri,
        label=label or operator.resolve_run_name(ExecutionContext(request_params, user=user)),
        delegation_target=delegation_target,
        context={"request_params": request_params},
        metadata={"inputs_schema": inputs.to_json() if inputs is not None else None},
        pipeline=pipeline,
        rerunnable=operator.config.rerunnable,
        queued_by=user,
    )



