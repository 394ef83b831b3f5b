"""Running a pipeline's stages in order, inside the operation's child process (FiftyOne's OSS
sequential mode).

Each stage runs its operator with the parent's request params and the stage's ``params``. After
a failure only ``always_run`` stages run (cleanup); the first error is the pipeline's error. The
status label shows the stage ("stage 2/3: export") and the fraction covers the whole pipeline.
A termination request counts as a failure: later ``always_run`` stages still start, but their own
checkpoints raise at once and the executor kills the process after the grace period.
"""

from __future__ import annotations

import copy
import traceback
from collections.abc import Callable
from typing import Any

from fiftyops_provider.execution.invoke import call_execute, validate_inputs
from fiftyops_provider.execution.sources import OperatorSource
from fiftyops_provider.plugins.context import ExecutionContext, ProgressCallback
from fiftyops_provider.plugins.errors import OperationTerminated
from fiftyops_provider.plugins.pipeline import Pipeline, PipelineExecutionContext, PipelineStage

# (operator uri, request params, progress callback, pipeline state) -> the stage's context
ContextFactory = Callable[[str, dict[str, Any], ProgressCallback, PipelineExecutionContext], ExecutionContext]


class PipelineStageError(Exception):
    """The first stage failure of a pipeline run, with that stage's traceback."""

    def __init__(self, message: str, trace: str, terminated: bool) -> None:
        super().__init__(message)
        self.message = message
        self.trace = trace
        self.terminated = terminated


def run_pipeline(
    pipeline: Pipeline, ctx: ExecutionContext, source: OperatorSource, make_context: ContextFactory
) -> None:
    """Run every stage; raises ``PipelineStageError`` (the first failure) after the last stage."""
    total = len(pipeline.stages)
    state = PipelineExecutionContext(active=True, curr_stage_index=0, total_stages=total)
    first_error: PipelineStageError | None = None
    for index, stage in enumerate(pipeline.stages):
        label = f"stage {index + 1}/{total}: {stage.name or stage.operator_uri}"
        if not state.active and not stage.always_run:
            ctx.logger.info("%s skipped (an earlier stage failed)", label)
            continue
        state.curr_stage_index = index
        ctx.set_progress(index / total, label)
        ctx.logger.info("%s started", label)
        try:
            _run_stage(stage, ctx, source, make_context, state, _stage_progress(ctx, index, total, label))
            ctx.logger.info("%s finished", label)
        except Exception as exc:
            stage_name = stage.name or stage.operator_uri
            message = f"Failed to execute pipeline stage[{index}] ({stage_name}): {type(exc).__name__}: {exc}"
            ctx.logger.error(message)
            state.active = False
            state.pipeline_errors = {**(state.pipeline_errors or {}), str(index): message}
            if first_error is None:
                first_error = PipelineStageError(message, traceback.format_exc(), isinstance(exc, OperationTerminated))
    if first_error is not None:
        raise first_error
    ctx.set_progress(1.0, f"{total}/{total} stages done")


def _run_stage(
    stage: PipelineStage,
    ctx: ExecutionContext,
    source: OperatorSource,
    make_context: ContextFactory,
    state: PipelineExecutionContext,
    on_progress: ProgressCallback,
) -> None:
    request_params = copy.deepcopy(ctx.request_params)
    request_params["params"] = dict(stage.params or {})
    stage_ctx = make_context(stage.operator_uri, request_params, on_progress, state)
    operator = source.load_operator(stage.operator_uri)
    validate_inputs(operator, stage_ctx)
    call_execute(operator, stage_ctx)


def _stage_progress(ctx: ExecutionContext, index: int, total: int, label: str) -> ProgressCallback:
    """A stage's own progress, reported as progress of the whole pipeline."""

    def report(progress: float | None, stage_label: str | None) -> None:
        overall = (index + progress) / total if progress is not None else None
        ctx.set_progress(overall, f"{label} - {stage_label}" if stage_label else label)

    return report
