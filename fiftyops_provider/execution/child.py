"""The child process that runs one operation: ``main()``, in a fork of the executor's process or
as ``python -m fiftyops_provider.execution.child`` (see ``child_process``).

It is started by ``Executor`` in a session (process group) of its own, so the executor can kill
the operator and everything it spawned without touching itself. It never writes the operation
document: it sends progress and one outcome to the executor (see ``channel``), which owns every
write. Its stdout/stderr are the operation's log.

Its environment is the allow-list the executor built (``child_env``): the database it uses comes
in the spec, never from the environment, and it connects only when it needs to: a forked child
gets the operators its executor resolved and checked (``ChildSource``), so an operator that reads
no dataset runs without a MongoDB client of its own. stdin carries the spec, then termination requests; end
of file on stdin means the executor died, and the child then kills its own process group, so no
operator outlives its executor.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
import traceback
from collections.abc import Mapping
from typing import IO, Any

import psutil
from bson.errors import InvalidDocument

from fiftyops_provider.database import get_database, use_process_database
from fiftyops_provider.execution.channel import OUTCOME, PROGRESS, SPEC, Lifeline, read_message, write_message
from fiftyops_provider.execution.invoke import as_result_document, call_execute, resolve_outputs_schema, validate_inputs
from fiftyops_provider.execution.pipeline_runner import PipelineStageError, run_pipeline
from fiftyops_provider.execution.sources import OperatorSource, build_source
from fiftyops_provider.plugins.context import ExecutionContext, ProgressCallback
from fiftyops_provider.plugins.errors import OperationTerminated
from fiftyops_provider.plugins.operator import Operator
from fiftyops_provider.plugins.pipeline import Pipeline, PipelineExecutionContext
from fiftyops_provider.store.service import progress_status

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _Reporter:
    """Thread-safe sender of progress and the outcome (operators may report from threads)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.lock = threading.Lock()

    def progress(self, progress: float | None, label: str | None) -> None:
        """Refuse what the store would refuse, here, so the operator's log shows the warning
        (the executor writes only the latest report, throttled)."""
        progress_status(progress, label)
        with self.lock:
            write_message(self.stream, PROGRESS, progress=progress, label=label)

    def outcome(self, outcome: Mapping[str, Any]) -> None:
        with self.lock:
            try:
                write_message(self.stream, OUTCOME, **outcome)
            except InvalidDocument as exc:
                message = (
                    f"The operator's result cannot be stored: {exc}. Return JSON-like data "
                    "(dicts with string keys, lists, strings, numbers, booleans, None, dates)."
                )
                write_message(self.stream, OUTCOME, ok=False, error=message, error_message=message, terminated=False)


class ChildSource:
    """The child's ``OperatorSource``: first the operators its executor resolved and checked
    (a forked child has them in memory: exactly the version the run-time checks passed on, even if
    the plugin is upgraded meanwhile), then the configured source, built, with the database
    client, only when something needs it (a dataset, a spawned child's operators)."""

    def __init__(self, spec: str, resolved: Mapping[str, Operator]) -> None:
        self.spec = spec
        self.resolved = resolved

    @functools.cached_property
    def configured(self) -> OperatorSource:
        return build_source(self.spec, get_database())

    def load_operator(self, uri: str) -> Operator:
        operator = self.resolved.get(uri)
        return operator if operator is not None else self.configured.load_operator(uri)

    def check_runnable(self, uri: str, user: str | None, dataset_id: Any, dataset_name: str | None) -> None:
        self.configured.check_runnable(uri, user, dataset_id, dataset_name)

    def declared_secrets(self, uri: str) -> list[str]:
        return self.configured.declared_secrets(uri)

    def load_dataset(self, dataset_id: Any, dataset_name: str | None) -> Any:
        return self.configured.load_dataset(dataset_id, dataset_name)


def _execute(spec: Mapping[str, Any], reporter: _Reporter, lifeline: Lifeline, source: ChildSource) -> dict[str, Any]:
    secret_keys = {uri: keys for uri, keys in spec["secret_keys"]}

    def make_context(
        uri: str,
        request_params: dict[str, Any],
        on_progress: ProgressCallback,
        pipeline: PipelineExecutionContext | None,
    ) -> ExecutionContext:
        return ExecutionContext(
            request_params,
            operation_id=spec["operation_id"],
            user=spec["user"],
            secrets={k: os.environ[k] for k in secret_keys.get(uri, []) if k in os.environ},
            on_progress=on_progress,
            termination_check=lambda: lifeline.reason,
            dataset_loader=source.load_dataset,
            logger=logging.getLogger("fiftyops.operator"),
            pipeline=pipeline,
        )

    uri = spec["operator"]
    if spec["stages"] is not None:
        ctx = make_context(uri, dict(spec["request_params"]), reporter.progress, None)
        run_pipeline(Pipeline.from_json(spec["stages"]), ctx, source, make_context)
        return {"ok": True, "result": None, "outputs_schema": None}
    pipeline = PipelineExecutionContext(**spec["pipeline_ctx"]) if spec["pipeline_ctx"] else None
    ctx = make_context(uri, dict(spec["request_params"]), reporter.progress, pipeline)
    operator = source.load_operator(uri)
    validate_inputs(operator, ctx)
    result = call_execute(operator, ctx)
    return {"ok": True, "result": as_result_document(result), "outputs_schema": resolve_outputs_schema(operator, ctx)}


def _failure(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, PipelineStageError):
        return {"ok": False, "error": exc.trace, "error_message": exc.message, "terminated": exc.terminated}
    return {
        "ok": False,
        "error": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
        "error_message": f"{type(exc).__name__}: {exc}",
        "terminated": isinstance(exc, OperationTerminated),
    }


def _end() -> None:
    """Flush the log, stop anything the operator left running, and leave without waiting for
    operator threads (they would keep the process, and the run, alive)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    for process in psutil.Process().children(recursive=True):
        try:
            process.kill()
        except psutil.Error:
            pass
    os._exit(0)


def _private_control_stream() -> IO[bytes]:
    """The executor's pipe, moved off fd 0: operator code or its subprocesses reading stdin must
    not consume termination requests. Their stdin is /dev/null."""
    control = os.fdopen(os.dup(0), "rb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    sys.stdin = open(os.devnull)  # noqa: SIM115 (the child's stdin for its whole life)
    return control


def main(resolved: Mapping[str, Operator] | None = None) -> None:
    """Run the operation the spec on stdin describes and exit. ``resolved``: the operators (by
    URI) the executor loaded and checked for this run, handed over by a fork."""
    control = _private_control_stream()
    spec = read_message(control)
    if spec is None or spec.get("kind") != SPEC:
        print("fiftyops child: no spec on stdin; this process is started by the executor", file=sys.stderr)
        os._exit(2)
    # Import what the parent can import (Airflow adds its dags/plugins folders at run time).
    sys.path[:] = list(spec["sys_path"]) + [p for p in sys.path if p not in spec["sys_path"]]
    use_process_database(spec["database"]["uri"], spec["database"]["name"])
    os.set_inheritable(spec["message_fd"], False)
    reporter = _Reporter(os.fdopen(spec["message_fd"], "wb"))
    lifeline = Lifeline(control)
    lifeline.start()
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT, stream=sys.stdout, force=True)
    try:
        outcome = _execute(spec, reporter, lifeline, ChildSource(spec["source"], resolved or {}))
    except BaseException as exc:  # SystemExit/KeyboardInterrupt raised by operator code included
        outcome = _failure(exc)
        logging.getLogger("fiftyops.execution").error("%s\n%s", outcome["error_message"], outcome["error"].rstrip())
    try:
        reporter.outcome(outcome)
    except OSError:
        pass  # the executor is gone; nothing to report to
    _end()


if __name__ == "__main__":
    main()
