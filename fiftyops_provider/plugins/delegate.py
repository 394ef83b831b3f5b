"""``delegate()``: the user-facing call that queues a delegated operation.

Every check happens before anything is written: the operator exists, is enabled and allows
delegated execution; the user's role and dataset permission meet the operator's minimums; the
params match the operator's declared inputs (a FiftyOne operator whose inputs depend on the
dataset, like FiftyOne's builtins, has them validated by FiftyOne when it runs); for a pipeline,
every stage operator exists, is runnable by the same user on the same dataset, is neither a
pipeline nor a FiftyOne operator, and accepts its stage params. A refusal raises and leaves the database untouched (only
the local plugin cache may gain a copy of the code it had to import to check).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bson import ObjectId
from pymongo.database import Database

from fiftyops_provider.config import load_settings
from fiftyops_provider.datasets.catalog import Dataset, load_dataset
from fiftyops_provider.plugins.context import ExecutionContext
from fiftyops_provider.plugins.errors import InvalidParams, InvalidPlugin, PermissionDenied
from fiftyops_provider.plugins.fiftyone_plugins import FiftyOneOperator
from fiftyops_provider.plugins.inputs import Inputs
from fiftyops_provider.plugins.operator import Operator, PipelineOperator
from fiftyops_provider.plugins.pipeline import Pipeline
from fiftyops_provider.plugins.registry import PluginRegistry
from fiftyops_provider.store import DelegatedOperationDocument, DelegatedOperationService
from fiftyops_provider.store.values import check_storable


def delegate(
    operator_uri: str,
    dataset: Dataset | str | ObjectId | None = None,
    params: Mapping[str, Any] | None = None,
    user: str | None = None,
    label: str | None = None,
    delegation_target: str | None = None,
    *,
    db: Database | None = None,
) -> DelegatedOperationDocument:
    """Queue ``operator_uri`` on ``dataset`` (a Dataset, its name, or its ObjectId) with ``params``
    as ``user`` (default ``FIFTYOPS_USER``). Returns the queued operation (state ``scheduled``).
    It is sent to ``delegation_target`` (default: the first of ``FIFTYOPS_DELEGATION_TARGETS``),
    so a FiftyOps deployment serving that target runs it, or fails it with a clear message if it
    cannot (``store.routing``).

    Raises ``OperatorNotFound``, ``OperatorDisabled``, ``PermissionDenied``, ``InvalidParams``,
    ``DatasetNotFound`` or ``InvalidPlugin`` (a pipeline that does not resolve to valid stages).

    In remote mode (``FIFTYOPS_API_URL`` or ``fiftyops login``; no ``db`` given) the FiftyOps API
    queues it as the Airflow token's user, with the same checks, and ``user`` must be unset.
    """
    if db is None:
        from fiftyops_provider.database import get_database
        from fiftyops_provider.remote import RemoteRuns, remote_login

        login = remote_login()
        if login is not None:
            if user is not None:
                raise PermissionDenied("In remote mode you queue as the user of your Airflow token; drop user=.")
            name = dataset.name if isinstance(dataset, Dataset) else None if dataset is None else str(dataset)
            return RemoteRuns(login).queue(operator_uri, name, params, label, delegation_target)
        db = get_database()
    settings = load_settings()
    user = user or settings.user
    registry = PluginRegistry(db)
    ds = _resolve_dataset(db, dataset)
    dataset_id, dataset_name = (ds.id, ds.name) if ds is not None else (None, None)
    registry.check_runnable(operator_uri, user, dataset_id, dataset_name)
    operator = registry.load_operator(operator_uri)
    if params is not None and not isinstance(params, Mapping):
        raise InvalidParams([("params", "must be a dict of input values")])
    # resolve_input sees the raw params (dynamic inputs depend on them); they are then validated.
    request_params: dict[str, Any] = {
        "dataset_name": dataset_name,
        "dataset_id": dataset_id,
        "params": dict(params or {}),
    }

    def context() -> ExecutionContext:
        # Operators may look at the dataset while resolving inputs, run name or pipeline.
        return ExecutionContext(request_params, user=user, dataset_loader=lambda _id, _name: ds)

    inputs = operator.resolve_input(context())
    if inputs is None and isinstance(operator, FiftyOneOperator):
        # Inputs FiftyOne knows only with the dataset (its builtins'): FiftyOne validates them when it runs.
        request_params["params"] = dict(params or {})
        check_storable(request_params["params"])
    else:
        request_params["params"] = _validated(operator_uri, inputs, params)
    pipeline = None
    if isinstance(operator, PipelineOperator):
        pipeline = _checked_pipeline(registry, operator, context(), user, ds)
    service = DelegatedOperationService(db)
    return service.queue_operation(
        operator_uri,
        label=label or operator.resolve_run_name(context()),
        delegation_target=delegation_target or settings.delegation_targets[0],
        context={"request_params": request_params},
        metadata={"inputs_schema": inputs.to_json() if inputs is not None else None},
        pipeline=pipeline,
        rerunnable=operator.config.rerunnable,
        queued_by=user,
    )


def _resolve_dataset(db: Database, dataset: Dataset | str | ObjectId | None) -> Dataset | None:
    if dataset is None or dataset == "":
        return None
    if isinstance(dataset, Dataset):
        return dataset
    if isinstance(dataset, ObjectId):
        return load_dataset(db, dataset, None)
    if isinstance(dataset, str):
        return load_dataset(db, None, dataset)
    raise TypeError(f"dataset must be a Dataset, a dataset name or an ObjectId, got {type(dataset).__name__}.")


def _validated(uri: str, inputs: Inputs | None, params: Any) -> dict[str, Any]:
    """The params with defaults filled in; ``InvalidParams`` names every problem."""
    if params is not None and not isinstance(params, Mapping):
        raise InvalidParams([("params", "must be a dict of input values")])
    if inputs is not None:
        validated = inputs.validate(params)
        check_storable(validated)
        return validated
    if params:
        raise InvalidParams([(str(name), f"{uri} takes no inputs") for name in params])
    return {}


def _checked_pipeline(
    registry: PluginRegistry, operator: PipelineOperator, ctx: ExecutionContext, user: str | None, ds: Dataset | None
) -> Pipeline:
    """The resolved pipeline, with each stage checked as if it were delegated on its own."""
    pipeline = operator.resolve_pipeline(ctx)
    if not isinstance(pipeline, Pipeline) or not pipeline.stages:
        raise InvalidPlugin(f"{operator.uri}: resolve_pipeline must return a Pipeline with at least one stage.")
    dataset_id, dataset_name = (ds.id, ds.name) if ds is not None else (None, None)
    for index, stage in enumerate(pipeline.stages):
        registry.check_runnable(stage.operator_uri, user, dataset_id, dataset_name)
        stage_operator: Operator = registry.load_operator(stage.operator_uri)
        if isinstance(stage_operator, PipelineOperator):
            raise InvalidPlugin(
                f"{operator.uri}: stage[{index}] {stage.operator_uri} is itself a pipeline; nesting is not supported."
            )
        if isinstance(stage_operator, FiftyOneOperator):  # the executor runs those only on their own
            raise InvalidPlugin(
                f"{operator.uri}: stage[{index}] {stage.operator_uri} is a FiftyOne operator, which runs only on its "
                "own; queue it with delegate() instead of as a stage."
            )
        stage_ctx = ExecutionContext(
            {**ctx.request_params, "params": dict(stage.params or {})}, user=user, dataset_loader=lambda _id, _name: ds
        )
        try:
            _validated(stage.operator_uri, stage_operator.resolve_input(stage_ctx), stage.params)
        except InvalidParams as exc:
            raise InvalidParams(
                [(f"stage[{index}] {stage.operator_uri}: {path}", reason) for path, reason in exc.problems]
            ) from None
        if stage.rerunnable is None:
            stage.rerunnable = stage_operator.config.rerunnable
    return pipeline
