"""``Executor``: claims one delegated operation and runs it in a watched child process.

    executor = Executor(service, heartbeat_interval=5, termination_grace=10)
    outcome = executor.run(doc_id, run_link=url, log_path=path)   # blocks until the run ends
    executor.terminate_current("task killed")                       # from another thread / on_kill

A run:

1. **Claim**: ``set_running(required_state=queued, claim_token=...)``; a second claimer gets None
   and does nothing (``OutcomeState.NOT_CLAIMED``).
2. **Re-check** that the operator (and each pipeline stage) still exists, is enabled and that the
   user who queued it may still run it; otherwise the run fails with that reason.
3. **Child process** in its own session, with an allow-listed environment plus the declared
   secrets (``child_env``), started by forking this process (``FIFTYOPS_CHILD_START=spawn``: a
   fresh interpreter; see ``child_process``). The database it uses comes with the spec on its
   stdin. Its output is captured to the operation's log file (secrets masked) and, when an
   orchestrator passes its own ``log_path``, echoed to this process's stdout so it lands in the
   task log. Progress labels, results, outputs and errors are masked before they are stored.
4. **Watch**: every ``heartbeat_interval`` ping the document (``heartbeat_at``/``updated_at``, only
   while we still hold the claim), refresh ``log_tail``/``log_size``, and look for a termination
   request or an external change (marked failed, reaped). Progress is written throttled.
5. **Stop** (termination, timeout, lost claim): ask the child to stop (``ctx.check_for_termination``
   raises at its next checkpoint); after ``termination_grace`` kill its process group.
6. **Finish** with compare-and-set on running + claim token: completed, failed, or the
   operator's ``on_reset`` policy after a timeout or a dead child (``policy``). A run changed
   externally is never overwritten.

The executor is the only writer of the document during a run (the child only reports to it).
One executor runs one operation at a time; use several executors for concurrency.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from functools import partial
from typing import IO, Any

import psutil
from bson import ObjectId
from bson.errors import InvalidDocument
from pymongo.errors import PyMongoError

from fiftyops_provider import credential_holders
from fiftyops_provider.config import load_settings
from fiftyops_provider.database import resolve_uri
from fiftyops_provider.execution import claims
from fiftyops_provider.execution.channel import OUTCOME, PROGRESS, SPEC, TERMINATE, read_message, write_message
from fiftyops_provider.execution.child_env import child_environment, parse_allowlist
from fiftyops_provider.execution.child_process import ChildProcess, start_child, start_method
from fiftyops_provider.execution.logcapture import LogCapture, default_log_path
from fiftyops_provider.execution.policy import ResetPolicy, apply_reset_policy
from fiftyops_provider.execution.secrets import Masker, SecretsSource, resolve_secrets
from fiftyops_provider.execution.sources import DEFAULT_OPERATOR_SOURCE, OperatorSource, build_source
from fiftyops_provider.plugins.context import ExecutionContext
from fiftyops_provider.plugins.fiftyone_plugins import FiftyOneOperator
from fiftyops_provider.plugins.operator import Operator, PipelineOperator
from fiftyops_provider.plugins.pipeline import Pipeline
from fiftyops_provider.store import (
    DelegatedOperationDocument,
    DelegatedOperationService,
    ExecutionResult,
    ExecutionRunState,
    InvalidOperation,
    StoreError,
)
from fiftyops_provider.store.log_archive import tail_is_whole_log

logger = logging.getLogger(__name__)

S = ExecutionRunState
DEFAULT_HEARTBEAT_INTERVAL = 5.0
DEFAULT_TERMINATION_GRACE = 10.0
DEFAULT_PROGRESS_INTERVAL = 1.0
POLL_SECONDS = 0.2  # how often the watch loop notices a child exit or a due action
EXITING_POLL_SECONDS = 0.005  # once the child reported its outcome it is exiting: look again soon
PUMP_JOIN_SECONDS = 5.0
OUTPUT_READ_BYTES = 65536  # longest piece of an output line read at once (a longer line comes in pieces)
RECORD_SECONDS = 10.0  # terminate_current waits this long past the grace period for the record
FINALIZE_WAIT_SECONDS = 60.0


def echo_to_stdout(line: str) -> None:
    """Default echo of the child's output: this process's stdout (Airflow's task log)."""
    print(line, flush=True)


class OutcomeState(str, Enum):
    COMPLETED = "completed"
    FAILED = "failed"
    REQUEUED = "requeued"  # on_reset="rerun" put it back in the queue for another attempt
    NOT_CLAIMED = "not_claimed"  # it was not queued, or another executor claimed it first
    LOST = "lost"  # the claim was taken away during the run (reaped and requeued/reclaimed)


@dataclass
class RunOutcome:
    """How a run ended, as this executor knows it (the document is the record)."""

    operation_id: str
    state: OutcomeState
    result: Any = None
    error: str | None = None
    error_message: str | None = None
    attempt: int = 0
    pid: int | None = None
    exit_code: int | None = None
    log_path: str | None = None
    terminated: bool = False
    timed_out: bool = False

    @property
    def succeeded(self) -> bool:
        return self.state is OutcomeState.COMPLETED

    def to_execution_result(self) -> ExecutionResult:
        return ExecutionResult(result=self.result, error=self.error, error_message=self.error_message)


class StopKind(Enum):
    TERMINATE = "terminate"
    TIMEOUT = "timeout"
    LOST = "lost"


@dataclass
class _Stop:
    kind: StopKind
    reason: str
    requested_by: str | None
    grace: float
    kill_at: float
    forced: bool = False


@dataclass
class _Plan:
    """What the parent resolved before starting the child."""

    policy: ResetPolicy
    timeout: float
    secrets: dict[str, str]
    secret_keys: list[tuple[str, list[str]]]
    stages: list[dict[str, Any]] | None
    pipeline_ctx: dict[str, Any] | None
    operators: dict[str, Operator]  # by URI: the run's operator and its stages', as checked
    # A FiftyOne operator: the FiftyOne interpreter's child command and the environment that
    # points FiftyOne at this database (None: the operator runs in FiftyOps' own child).
    child_command: list[str] | None = None
    child_env: dict[str, str] | None = None


@dataclass
class _ActiveRun:
    doc: DelegatedOperationDocument  # as claimed (attempt counted)
    token: str
    capture: LogCapture
    log_path: str
    grace: float
    plan: _Plan | None = None
    process: ChildProcess | None = None
    threads: list[threading.Thread] = field(default_factory=list)
    progress: tuple[float | None, str | None] | None = None
    outcome_message: Mapping[str, Any] | None = None
    stop: _Stop | None = None
    tail_version: int = -1
    outcome: RunOutcome | None = None
    finalizing: bool = False
    lock: threading.RLock = field(default_factory=threading.RLock)
    wake: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)

    def note(self, message: str) -> None:
        """A line from the executor itself in the operation's log."""
        self.capture.write(f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} [fiftyops] {message}")

    def request_stop(
        self, kind: StopKind, reason: str, requested_by: str | None = None, grace: float | None = None
    ) -> None:
        """Ask the child to stop at its next checkpoint; the first request wins, and a run that
        already reported its outcome is not stopped (its result stands)."""
        grace = self.grace if grace is None else grace
        with self.lock:
            if self.stop is not None or self.outcome_message is not None:
                return
            self.stop = _Stop(kind, reason, requested_by, grace, time.monotonic() + grace)
            process = self.process
        self.note(f"stopping: {reason}" + (f" (requested by {requested_by})" if requested_by else ""))
        if process is not None:
            self.send_terminate(process, reason)
        self.wake.set()

    def send_terminate(self, process: ChildProcess, reason: str) -> None:
        try:
            write_message(process.stdin, TERMINATE, reason=reason)
        except (OSError, ValueError):  # the child already exited
            pass

    def kill(self) -> None:
        """Kill the child's process tree (its session), once the grace period is over."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        if self.stop is not None and not self.stop.forced:
            self.stop.forced = True
            self.note(f"the operator did not stop within {self.stop.grace:g}s; killing process group {process.pid}")
        kill_process_tree(process.pid)


def kill_process_tree(pid: int) -> None:
    """SIGKILL the process group led by ``pid`` and any descendant that left it."""
    try:
        descendants = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        descendants = []
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for process in descendants:
        try:
            process.kill()
        except psutil.Error:
            pass


class Executor:
    """Runs delegated operations, one at a time, each in a child process.

    ``source``: import path ``"module:factory"`` of the ``OperatorSource`` (default: the plugin
    registry); the child builds the same source. ``secrets``: where declared secret values come
    from (default ``os.environ``). ``echo``: where the child's output lines also go; when None,
    they are echoed to stdout only for runs given an orchestrator ``log_path``.
    ``database_uri``: the MongoDB URI the child connects to when the service was not built from
    ``FIFTYOPS_DATABASE_URI`` (the database name always follows the service's).
    ``child_env_allowlist``: names (``NAME*``: a prefix) the child gets from this process's
    environment beyond the built-in list (default: ``FIFTYOPS_CHILD_ENV_ALLOWLIST``).
    ``keep_dispatch_on_requeue``: an operation requeued by its ``on_reset`` policy stays with this
    orchestrator run (Airflow retries the task itself) instead of returning to the dispatchers.
    How children start comes from ``FIFTYOPS_CHILD_START`` (``fork`` by default, ``spawn``), read
    here so a wrong value fails when the executor is configured, not at its first run.
    Readers' stale bound is 3 x ``heartbeat_interval``: every executor sharing a database must use
    an interval below a third of the reaper's ``stale_after``.
    """

    def __init__(
        self,
        service: DelegatedOperationService,
        *,
        source: str = DEFAULT_OPERATOR_SOURCE,
        secrets: SecretsSource | None = None,
        heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL,
        termination_grace: float = DEFAULT_TERMINATION_GRACE,
        progress_interval: float = DEFAULT_PROGRESS_INTERVAL,
        echo: Callable[[str], None] | None = None,
        database_uri: str | None = None,
        executor_id: str | None = None,
        keep_dispatch_on_requeue: bool = False,
        child_env_allowlist: Iterable[str] | None = None,
    ) -> None:
        if heartbeat_interval <= 0 or termination_grace < 0 or progress_interval < 0:
            raise ValueError("heartbeat_interval must be > 0; termination_grace and progress_interval >= 0.")
        self.service = service
        self.source_spec = source
        self.secrets = secrets
        self.heartbeat_interval = heartbeat_interval
        self.termination_grace = termination_grace
        self.progress_interval = progress_interval
        self.echo = echo
        self.database_uri = database_uri
        self.executor_id = executor_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.keep_dispatch_on_requeue = keep_dispatch_on_requeue
        settings = load_settings()
        self.child_start = start_method(settings.child_start)
        self.child_env_allowlist = tuple(
            parse_allowlist(settings.child_env_allowlist) if child_env_allowlist is None else child_env_allowlist
        )
        credential_holders.track(self, _forget_database_uri)
        self._source: OperatorSource | None = None
        self._current: _ActiveRun | None = None
        self._closing: tuple[str, str | None, float | None] | None = None  # set by shutdown()
        self._state_lock = threading.RLock()  # reentrant: signal handlers run on the run() thread
        self._run_lock = threading.Lock()

    @property
    def source(self) -> OperatorSource:
        """Built on first use, so creating an executor never imports plugin code."""
        if self._source is None:
            self._source = build_source(self.source_spec, self.service.database)
        return self._source

    @property
    def current_pid(self) -> int | None:
        """PID (and process group id) of the child running the current operation."""
        run = self._current
        return run.process.pid if run is not None and run.process is not None else None

    @property
    def current_operation_id(self) -> str | None:
        run = self._current
        return str(run.doc.id) if run is not None else None

    def claim_token_for(self, doc: DelegatedOperationDocument) -> str:
        """Executor id + the attempt the claim will count, unique per executor and attempt."""
        return claims.claim_token(self.executor_id, doc.attempt + 1)

    # -- running -------------------------------------------------------------------------------
    def run(
        self,
        operation: DelegatedOperationDocument | ObjectId | str,
        *,
        run_link: str | None = None,
        log_path: str | None = None,
        claim_token: str | None = None,
        on_claimed: Callable[[DelegatedOperationDocument], None] | None = None,
    ) -> RunOutcome:
        """Claim ``operation`` and run it to the end.

        ``log_path``: the orchestrator's own log (e.g. the Airflow task log URL/path). It is what
        the document's ``log_path`` records; the executor still captures the output to its own
        per-operation file (``log_tail``/``log_size`` come from it) and echoes it to stdout.
        Without it, ``log_path`` is the capture file.

        A document is used as given (the claim's compare-and-set checks it is still queued); an
        id is read first. ``on_claimed(doc)`` runs once the claim is won, before the operator
        starts (an orchestrator publishing its links off the claim's path); if it raises, the run
        fails like any executor error.
        """
        doc = operation if isinstance(operation, DelegatedOperationDocument) else self.service.get(operation)
        if doc.id is None:
            raise ValueError("This operation document has no id: queue it (queue_operation) before running it.")
        capture_path = default_log_path(doc.id)
        stored_log_path = log_path or str(capture_path)
        token = claim_token or self.claim_token_for(doc)
        if not self._run_lock.acquire(blocking=False):
            raise RuntimeError(f"Executor {self.executor_id} is already running an operation; use another Executor.")
        try:
            not_claimed = RunOutcome(str(doc.id), OutcomeState.NOT_CLAIMED, attempt=doc.attempt, log_path=doc.log_path)
            if self._closing is not None:
                return not_claimed
            claimed = self.service.set_running(
                doc.id,
                run_link=run_link,
                log_path=stored_log_path,
                required_state=S.QUEUED,
                monitored=True,
                claim_token=token,
            )
            if claimed is None:
                logger.info("Operation %s was not claimed: it is no longer queued", doc.id)
                return not_claimed
            echo = self.echo or (echo_to_stdout if log_path else None)
            run = _ActiveRun(claimed, token, LogCapture(capture_path, echo), stored_log_path, self.termination_grace)
            with self._state_lock:
                self._current = run
                closing = self._closing
            if closing is not None:  # shutdown() came while we were claiming
                run.request_stop(StopKind.TERMINATE, *closing)
            try:
                return self._run_claimed(run, on_claimed)
            finally:
                self._current = None
        finally:
            self._run_lock.release()

    def shutdown(
        self,
        reason: str = "the executor is shutting down",
        requested_by: str | None = None,
        *,
        grace: float | None = None,
        wait: bool = False,
    ) -> RunOutcome | None:
        """Stop for good: terminate the current run (even one being claimed right now) and make
        every later ``run`` return ``NOT_CLAIMED`` without claiming. For launchers' signal
        handlers and orchestrators' kill hooks; see ``terminate_current`` for ``grace``/``wait``."""
        with self._state_lock:
            self._closing = (reason, requested_by, grace)
        return self.terminate_current(reason, requested_by, grace=grace, wait=wait)

    def terminate_current(
        self,
        reason: str = "terminated by the orchestrator",
        requested_by: str | None = None,
        *,
        grace: float | None = None,
        wait: bool = True,
    ) -> RunOutcome | None:
        """Stop the running operation (e.g. from an Airflow ``on_kill``): the operator gets
        ``OperationTerminated`` at its next checkpoint, its process group is killed after
        ``grace`` seconds (default ``termination_grace``), and the operation is marked failed
        ("terminated", with ``requested_by`` and ``reason`` in its result).

        With ``wait`` (default) this returns the recorded outcome, so it is safe to call right
        before the process exits; it gives up after ``grace`` + ``RECORD_SECONDS`` and returns
        None (``run`` then records it). ``wait=False`` only requests the stop. Returns None when
        nothing is running. Pick ``grace`` below the time the orchestrator allows after its kill
        signal (Airflow's supervisor escalates to SIGKILL about 5 s after SIGTERM).
        """
        with self._state_lock:
            run = self._current
        if run is None:
            return None
        run.request_stop(StopKind.TERMINATE, reason, requested_by, grace)
        if not wait:
            return None
        # The work runs on a helper thread: Airflow calls on_kill from a signal handler on the
        # very thread that runs run(), which may hold locks this work needs (Popen's, pymongo's);
        # a helper just waits for the interrupted frame to release them instead of deadlocking.
        helper = threading.Thread(target=self._stop_and_record, args=(run,), name="fiftyops-terminate", daemon=True)
        helper.start()
        kill_at = run.stop.kill_at if run.stop is not None else time.monotonic()
        helper.join(max(0.0, kill_at - time.monotonic()) + RECORD_SECONDS)
        return run.outcome

    def _stop_and_record(self, run: _ActiveRun) -> None:
        process = run.process
        try:
            if process is not None:
                kill_at = run.stop.kill_at if run.stop is not None else time.monotonic() + run.grace
                if not _exited(process, kill_at):
                    run.kill()
                    _exited(process, time.monotonic() + PUMP_JOIN_SECONDS)
                self._collect(run, process)
            self._finalize(run)
        except Exception:  # run() records it through its own error path
            logger.exception("Recording the termination of operation %s failed", run.doc.id)

    def _run_claimed(
        self, run: _ActiveRun, on_claimed: Callable[[DelegatedOperationDocument], None] | None
    ) -> RunOutcome:
        doc = run.doc
        run.capture.open()
        run.note(f"attempt {doc.attempt} of {doc.operator} (operation {doc.id}) claimed by {self.executor_id}")
        try:
            if on_claimed is not None:
                on_claimed(doc)
            try:
                plan = run.plan = self._plan(doc)
            except Exception as exc:
                message = f"Operation {doc.id} cannot run {doc.operator}: {exc}"
                run.note(message)
                return self._finish(run, failure=ExecutionResult(error=traceback.format_exc(), error_message=message))
            run.capture.mask_secrets(Masker(plan.secrets))
            process = self._spawn(run, plan)
            if process is None:
                return self._finish(run)
            self._watch(run, process, plan.timeout)
            self._collect(run, process)
            return self._finish(run)
        except BaseException as exc:
            # A bug or an interrupt in the executor itself: never leave the child or a running doc behind.
            logger.exception("Executor %s failed while running operation %s", self.executor_id, run.doc.id)
            if run.process is not None:
                kill_process_tree(run.process.pid)
                run.process.wait()
            outcome = self._finish(run, failure=ExecutionResult.from_exception(exc, f"The executor failed: {exc!r}"))
            if not isinstance(exc, Exception):
                raise
            return outcome

    def _plan(self, doc: DelegatedOperationDocument) -> _Plan:
        source = self.source
        operator = source.load_operator(doc.operator)
        source.check_runnable(doc.operator, doc.queued_by, doc.dataset_id, doc.dataset_name)
        operators = {doc.operator: operator}
        stages = None
        pipeline: Pipeline | None = None
        if doc.pipeline:
            pipeline = Pipeline.from_json(doc.pipeline)
        elif isinstance(operator, PipelineOperator):
            resolved = operator.resolve_pipeline(
                ExecutionContext(doc.request_params, operation_id=str(doc.id), user=doc.queued_by)
            )
            if not isinstance(resolved, Pipeline):
                raise TypeError(f"resolve_pipeline must return a Pipeline, got {type(resolved).__name__}")
            pipeline = resolved
        if pipeline is not None:
            for stage in pipeline.stages:
                operators.setdefault(stage.operator_uri, source.load_operator(stage.operator_uri))
                source.check_runnable(stage.operator_uri, doc.queued_by, doc.dataset_id, doc.dataset_name)
            stages = pipeline.to_json()["stages"]
        secret_keys = [(uri, list(source.declared_secrets(uri))) for uri in operators]
        child_command, child_env = self._fiftyone_child(operator, stages)
        return _Plan(
            child_command=child_command,
            child_env=child_env,
            policy=ResetPolicy.of(operator),
            timeout=float(doc.execution_timeout or operator.config.execution_timeout),
            secrets=resolve_secrets({key for _, keys in secret_keys for key in keys}, self.secrets),
            secret_keys=secret_keys,
            stages=stages,
            pipeline_ctx=self._pipeline_context(doc) if doc.parent_id is not None else None,
            operators=operators,
        )

    def _fiftyone_child(
        self, operator: Any, stages: list[dict[str, Any]] | None
    ) -> tuple[list[str] | None, dict[str, str] | None]:
        """For a FiftyOne operator: the FiftyOne interpreter's child (on the registry version the
        operator names, for a FiftyOne plugin's) and its environment."""
        if not isinstance(operator, FiftyOneOperator):
            return None, None
        runtime = getattr(self.source, "fiftyone", None)
        if runtime is None or stages is not None:
            raise ValueError(f"{operator.uri} is a FiftyOne operator, which runs only alone, with fiftyone_python set.")
        return runtime.child_command(operator.plugin_root), runtime.child_environment()

    def _pipeline_context(self, doc: DelegatedOperationDocument) -> dict[str, Any]:
        """``ctx.pipeline`` of a child operation, from its parent's pipeline and run info."""
        parent = self.service.get(doc.parent_id)
        info = parent.pipeline_run_info or {}
        return {
            "active": info.get("active", True),
            "curr_stage_index": info.get("stage_index", 0),
            "total_stages": len((parent.pipeline or {}).get("stages", [])),
            "pipeline_errors": info.get("child_errors"),
        }

    def _spawn(self, run: _ActiveRun, plan: _Plan) -> ChildProcess | None:
        """Start the child and its reader threads; None if the run was stopped before."""
        doc = run.doc
        request_params = dict(doc.request_params)
        request_params["run_doc"] = str(doc.id)
        if doc.dataset_id is not None:
            request_params.setdefault("dataset_id", str(doc.dataset_id))
        # A FiftyOne operator's child also gets FiftyOne's own settings (FIFTYONE_PLUGINS_DIR, ...).
        allowed = (*self.child_env_allowlist, "FIFTYONE_*") if plan.child_command else self.child_env_allowlist
        env = {**child_environment(os.environ, plan.secrets, allowed), **(plan.child_env or {})}
        database = {"uri": self.database_uri or resolve_uri(), "name": self.service.database.name}
        read_fd, write_fd = os.pipe()
        with run.lock:
            if run.stop is not None:
                os.close(read_fd)
                os.close(write_fd)
                return None
            try:
                process = run.process = start_child(self.child_start, env, write_fd, plan.child_command, plan.operators)
            finally:
                os.close(write_fd)
            messages = os.fdopen(read_fd, "rb")
            run.threads = [
                threading.Thread(
                    target=self._pump_output, args=(run, process.stdout), name=f"fiftyops-output-{doc.id}", daemon=True
                ),
                threading.Thread(
                    target=self._read_messages, args=(run, messages), name=f"fiftyops-messages-{doc.id}", daemon=True
                ),
            ]
            for thread in run.threads:
                thread.start()
            try:  # under the lock, so a termination request can only follow the spec
                write_message(
                    process.stdin,
                    SPEC,
                    operation_id=str(doc.id),
                    operator=doc.operator,
                    request_params=request_params,
                    user=doc.queued_by,
                    source=self.source_spec,
                    message_fd=write_fd,
                    secret_keys=plan.secret_keys,
                    stages=plan.stages,
                    pipeline_ctx=plan.pipeline_ctx,
                    sys_path=sys.path,
                    database=database,
                )
            except (OSError, ValueError):
                pass  # the child died at once; the watch loop sees it exit without an outcome
        run.note(f"started child process {process.pid} (timeout {plan.timeout:g}s)")
        return process

    def _pump_output(self, run: _ActiveRun, output: IO[bytes]) -> None:
        for raw in iter(partial(output.readline, OUTPUT_READ_BYTES), b""):
            run.capture.feed(raw)
        run.capture.feed(b"")

    def _read_messages(self, run: _ActiveRun, stream: IO[bytes]) -> None:
        with stream:
            while (message := read_message(stream)) is not None:
                if message.get("kind") == PROGRESS:
                    with run.lock:
                        run.progress = (message.get("progress"), message.get("label"))
                elif message.get("kind") == OUTCOME:
                    with run.lock:
                        run.outcome_message = message
                    run.wake.set()

    def _watch(self, run: _ActiveRun, process: ChildProcess, timeout: float) -> None:
        """The parent's loop until the child exits: heartbeat, progress, timeout, kill.

        The first heartbeat is due one interval after the start: the claim has just written
        ``heartbeat_at``, and a ping plus a log-tail write at once (two durable writes, each a
        replica-set round trip) would only hold up a short run's end by that much."""
        deadline = time.monotonic() + timeout
        next_progress = time.monotonic()
        next_beat = next_progress + self.heartbeat_interval
        while process.poll() is None:
            now = time.monotonic()
            if now >= next_beat:
                self._heartbeat(run)
                next_beat = now + self.heartbeat_interval
            if now >= next_progress and self._write_progress(run):
                next_progress = now + self.progress_interval
            if now >= deadline:
                run.request_stop(StopKind.TIMEOUT, f"Timed out after {timeout:g}s (execution_timeout)")
            if run.stop is not None and now >= run.stop.kill_at:
                run.kill()
            run.wake.wait(EXITING_POLL_SECONDS if run.outcome_message is not None else POLL_SECONDS)
            run.wake.clear()

    def _heartbeat(self, run: _ActiveRun) -> None:
        """Ping while we hold the claim; react to termination requests and external changes."""
        doc_id = run.doc.id
        try:
            pinged = self.service.ping(doc_id, run.token)
            if pinged is None:
                current = self.service.get(doc_id)
                run.request_stop(
                    StopKind.LOST,
                    f"the operation was changed externally during execution (now {current.run_state.value}"
                    + (", claimed by another executor)" if current.claim_token else ")"),
                )
                return
            if pinged.termination:
                run.request_stop(
                    StopKind.TERMINATE,
                    pinged.termination.get("reason") or "terminated by request",
                    pinged.termination.get("requested_by"),
                )
            self._write_log_tail(run)
        except (PyMongoError, StoreError) as exc:
            logger.warning("Heartbeat of operation %s failed (will retry): %s", doc_id, exc)

    def _write_progress(self, run: _ActiveRun) -> bool:
        """Write the latest reported progress, if any (the child validated it); a failed write
        is logged and never fails the run."""
        with run.lock:
            pending, run.progress = run.progress, None
        if pending is None:
            return False
        progress, label = pending
        try:
            self.service.set_progress(run.doc.id, progress, run.capture.mask(label) if label else label)
        except (PyMongoError, StoreError) as exc:
            logger.warning("Progress of operation %s not recorded: %s", run.doc.id, exc)
        return True

    def _write_log_tail(self, run: _ActiveRun) -> None:
        version = run.capture.version
        if version != run.tail_version:
            self.service.set_log_tail(run.doc.id, run.capture.tail(), run.capture.size)
            run.tail_version = version

    def _collect(self, run: _ActiveRun, process: ChildProcess) -> None:
        """After the child exited: kill what it left in its group, drain its output."""
        kill_process_tree(process.pid)
        for thread in run.threads:
            thread.join(PUMP_JOIN_SECONDS)
        for pipe in (process.stdin, process.stdout):
            try:
                pipe.close()
            except OSError:
                pass

    # -- finishing -----------------------------------------------------------------------------
    def _finish(self, run: _ActiveRun, failure: ExecutionResult | None = None) -> RunOutcome:
        """``_finalize`` for ``run()``, which must return an outcome: if a terminating thread is
        still recording it after the wait, what the document says now."""
        outcome = self._finalize(run, failure)
        if outcome is None:
            return self._outcome(run, None, run.process.returncode if run.process is not None else None)
        return outcome

    def _finalize(self, run: _ActiveRun, failure: ExecutionResult | None = None) -> RunOutcome | None:
        """Record how the run ended, once (``run`` and ``terminate_current`` may both get here)."""
        with run.lock:
            mine = not run.finalizing
            run.finalizing = True
        if not mine:  # the other thread records it
            run.done.wait(FINALIZE_WAIT_SECONDS)
            return run.outcome
        exit_code = run.process.returncode if run.process is not None else None
        if exit_code is not None:
            run.note(f"child process exited with code {exit_code}")
        try:
            if run.stop is None or run.stop.kind is not StopKind.LOST:
                self._write_progress(run)
            written = self._record(run, failure, exit_code)
            run.outcome = self._outcome(run, written, exit_code)
        except BaseException:
            with run.lock:  # let the caller's error path record the failure instead
                run.finalizing = False
            raise
        run.done.set()
        return run.outcome

    def _record(
        self, run: _ActiveRun, failure: ExecutionResult | None, exit_code: int | None
    ) -> DelegatedOperationDocument | None:
        """Write the terminal state (or requeue); None when the CAS found the run changed."""
        doc, stop, message = run.doc, run.stop, run.outcome_message
        mask = run.capture.mask
        if stop is not None and stop.kind is StopKind.LOST:
            current = self.service.get(doc.id)
            if current.run_state is S.FAILED and current.claim_token == run.token:
                self._close_log(run, f"not recording a result: {stop.reason}")  # marked failed: the log is still ours
            else:  # another attempt may own the document's log fields now
                run.note(f"not recording a result: {stop.reason}")
                run.capture.close()
            return None
        if failure is None:
            if stop is not None and stop.kind is StopKind.TERMINATE:
                failure = self._terminated_result(stop, message)
            elif stop is not None or message is None:
                reason = stop.reason if stop is not None else _died(exit_code)
                if stop is not None and stop.forced:
                    reason += f"; killed after the {stop.grace:g}s grace period"
                self._close_log(run, f"ending attempt {doc.attempt}: {reason}")
                policy = run.plan.policy if run.plan is not None else ResetPolicy()  # stopped before planning
                return apply_reset_policy(self.service, doc, run.token, policy, reason, self.keep_dispatch_on_requeue)
            elif message.get("ok"):
                tail = self._close_log(run, "completed", with_outcome=True)
                try:
                    return self.service.set_completed(
                        doc.id,
                        ExecutionResult(
                            result=mask.document(message.get("result")),
                            outputs_schema=mask.document(message.get("outputs_schema")),
                        ),
                        required_state=S.RUNNING,
                        claim_token=run.token,
                        log_tail=tail,
                    )
                except (InvalidOperation, InvalidDocument) as exc:
                    failure = ExecutionResult(
                        error=str(exc), error_message=f"The operator's result cannot be stored: {exc}"
                    )
            else:
                failure = ExecutionResult(error=message.get("error"), error_message=message.get("error_message"))
        failure.error = mask(failure.error or failure.error_message or "failed")
        failure.error_message = mask(failure.error_message or "failed")
        failure.result = mask.document(failure.result)
        tail = self._close_log(run, f"failed: {failure.error_message}", with_outcome=True)
        return self.service.set_failed(
            doc.id,
            failure,
            required_state=S.RUNNING,
            claim_token=run.token,
            update_pipeline=doc.parent_id,
            log_tail=tail,
        )

    def _terminated_result(self, stop: _Stop, message: Mapping[str, Any] | None) -> ExecutionResult:
        who = stop.requested_by or "an unnamed requester"
        text = f"Terminated by {who}: {stop.reason}"
        if stop.forced:
            text += f" (killed after the {stop.grace:g}s grace period: the operator did not stop at a checkpoint)"
        result: dict[str, Any] = {
            "terminated": True,
            "requested_by": stop.requested_by,
            "reason": stop.reason,
            "forced": stop.forced,
        }
        if message is not None and message.get("ok") and message.get("result") is not None:
            result["partial_result"] = message["result"]
        trace = message.get("error") if message is not None and not message.get("ok") else None
        return ExecutionResult(result=result, error=trace or text, error_message=text)

    def _close_log(self, run: _ActiveRun, final_line: str, with_outcome: bool = False) -> tuple[str, int | None] | None:
        """Last line, final tail and size, the whole log into the database (readers on other
        machines show it; a short log's tail is all of it, and is not stored again), and any log
        storage error; never fails the run. ``with_outcome``:
        return the final tail and size for the outcome's write to record (one durable write
        fewer per run) instead of writing them here."""
        run.note(final_line)
        run.capture.close()
        try:
            if not with_outcome:
                self._write_log_tail(run)
            if run.capture.error is None and not tail_is_whole_log(run.capture.tail(), run.capture.size):
                self.service.store_log(run.doc.id, run.capture.path.read_bytes())
        except OSError as exc:
            run.capture.error = f"Reading the log file {run.capture.path} to store it failed: {exc}"
        except (PyMongoError, StoreError) as exc:
            logger.warning("Could not store the log of operation %s: %s", run.doc.id, exc)
        try:
            if run.capture.error:
                self.service.set_log_upload_error(run.doc.id, run.capture.error)
        except (PyMongoError, StoreError) as exc:
            logger.warning("Could not store the log of operation %s: %s", run.doc.id, exc)
        return (run.capture.tail(), run.capture.size) if with_outcome else None

    def _outcome(
        self, run: _ActiveRun, written: DelegatedOperationDocument | None, exit_code: int | None
    ) -> RunOutcome:
        doc = written
        if doc is None:  # someone else changed it: report what the document says
            doc = self.service.get(run.doc.id)
            state = OutcomeState.FAILED if doc.run_state is S.FAILED else OutcomeState.LOST
        else:
            state = {
                S.COMPLETED: OutcomeState.COMPLETED,
                S.FAILED: OutcomeState.FAILED,
                S.QUEUED: OutcomeState.REQUEUED,
            }[doc.run_state]
        result = doc.result
        stop = run.stop
        return RunOutcome(
            operation_id=str(doc.id),
            state=state,
            result=result.result if result else None,
            error=result.error if result else None,
            error_message=result.error_message if result else None,
            attempt=run.doc.attempt,
            pid=run.process.pid if run.process is not None else None,
            exit_code=exit_code,
            log_path=run.log_path,
            terminated=stop is not None and stop.kind is StopKind.TERMINATE,
            timed_out=stop is not None and stop.kind is StopKind.TIMEOUT,
        )


def _forget_database_uri(executor: Executor) -> None:
    executor.database_uri = None


def _exited(process: ChildProcess, until: float) -> bool:
    """Poll until ``process`` exits or the monotonic time ``until``; True if it exited."""
    while process.poll() is None:
        if time.monotonic() >= until:
            return False
        time.sleep(0.05)
    return True


def _died(exit_code: int | None) -> str:
    if exit_code is not None and exit_code < 0:
        try:
            how = f"was killed by {signal.Signals(-exit_code).name}"
        except ValueError:
            how = f"was killed by signal {-exit_code}"
    else:
        how = f"exited with code {exit_code}"
    return f"The worker process {how} before reporting a result"
