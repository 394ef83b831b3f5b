"""``ExecuteDelegatedOperationOperator``: one delegated operation as one Airflow task.

The task claims the operation (``execution.task_attempts`` decides which one this try runs),
records the task instance's UI deep link as ``run_link`` and its Airflow log file as
``log_path``, and runs it through the executor (child process, heartbeat, progress, termination,
timeout policy). Airflow conventions map onto the store:

* the task fails when the operation fails; a run requeued by ``on_reset="rerun"`` raises a
  retryable error, so Airflow's retry (``retries = max_attempts - 1``) runs the next attempt;
* marking the task failed, clearing it or its ``execution_timeout`` call ``on_kill``, which
  terminates the operation ("terminated from Airflow");
* a terminate from the store stops the task (it fails with the reason);
* failures Airflow detects without the worker (heartbeat timeout) reach
  ``mark_operation_failed``, the task's failure callback.

Anyone Airflow lets trigger the DAG can start a run with any conf, so the conf is not trusted:
``operation_id`` is run only by the DAG run the dispatcher started for it (``dispatched_to``),
and ``rerun_of`` (or a clear of a finished operation) passes the Runs page's re-run checks as the
Airflow user who triggered the run (the operation's owner, for a clear) before anything is
written. A refusal fails the task with the reason and changes nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, cast

from airflow.sdk import BaseOperator, Context

from fiftyops_provider.access.permissions import Role
from fiftyops_provider.access.run_rules import require_rerun
from fiftyops_provider.access.users import User, UserStore
from fiftyops_provider.airflow_compat import (
    AirflowException,
    AirflowFailException,
    AirflowSkipException,
    task_comms_thread_safe,
    triggering_user,
)
from fiftyops_provider.dag_factory.naming import dispatch_run_id
from fiftyops_provider.execution import Executor, OutcomeState
from fiftyops_provider.execution.task_attempts import NothingToRun, TaskAttempt, claimed_by, operation_for_attempt
from fiftyops_provider.hooks.fiftyops import FiftyOpsHook, task_hook
from fiftyops_provider.links import FiftyOpsRunLink, task_log_path_for, task_url_for
from fiftyops_provider.plugins.errors import PluginError
from fiftyops_provider.plugins.registry import PluginRegistry
from fiftyops_provider.store import DelegatedOperationDocument, StoreError
from fiftyops_provider.store.states import ExecutionRunState as S

ON_KILL_GRACE = 3.0
LINK_PUBLISH_DELAY = 2.0  # seconds after the claim before a running operation's button is pushed


def _attempt(context: Context) -> TaskAttempt:
    ti = context["ti"]
    return TaskAttempt.for_airflow(ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.try_number)


def dispatched_to(run_id: str) -> Callable[[DelegatedOperationDocument], bool]:
    """Whether the dispatcher handed an operation to the DAG run ``run_id``: it picked the
    operation up and named the run after it (``dispatch_run_id``, for the attempt it was at then;
    a requeue for Airflow's retry keeps the pick-up and raises the attempt)."""

    def assigned(doc: DelegatedOperationDocument) -> bool:
        return doc.dispatch is not None and any(
            run_id == dispatch_run_id(str(doc.id), attempt) for attempt in range(doc.attempt + 1)
        )

    return assigned


def rerun_checker(hook: FiftyOpsHook) -> Callable[[DelegatedOperationDocument, str | None], None]:
    """The Runs page's re-run checks (``require_rerun``) for a user named by Airflow."""

    def check(doc: DelegatedOperationDocument, user: str | None) -> None:
        if not user:
            raise PluginError(
                f"Cannot re-run operation {doc.id}: Airflow did not record who triggered this run "
                "(dag_run.triggering_user_name); re-run it from the FiftyOps Runs page instead."
            )
        db = hook.get_database()
        users = UserStore(db)
        account = users.get(user) or User(user, Role.GUEST)  # never seen by FiftyOps: no grants
        require_rerun(PluginRegistry(db), account, doc)

    return check


class ExecuteDelegatedOperationOperator(BaseOperator):
    """Run one delegated operation.

    :param operation_id: the operation to run (templated; the dispatcher passes it in the run conf).
    :param rerun_of: run a new copy of this finished operation instead.
    :param operator_uri: the plugin operator this task runs; with neither id given, the task
        queues a new operation of it from the DAG run's params (the Airflow "Trigger" form).
    :param fiftyops_conn_id: the FiftyOps connection (MongoDB holding the operation store).
    :param do_xcom_push: False by default: the operation's result lives in the store (Run page,
        SDK), and Airflow's metadata database need not hold it (results can be large; on SQLite
        every write contends). True pushes ``{"operation_id", "result"}`` as the return value.

    The "FiftyOps run" button: an operation still running ``LINK_PUBLISH_DELAY`` seconds after
    its claim gets it then; a shorter one gets it from Airflow's own push when the task ends.
    """

    template_fields = ("operation_id", "rerun_of")
    operator_extra_links = (FiftyOpsRunLink(),)
    ui_color = "#ffe8cc"

    def __init__(
        self,
        *,
        operation_id: str | None = None,
        rerun_of: str | None = None,
        operator_uri: str | None = None,
        fiftyops_conn_id: str = FiftyOpsHook.default_conn_name,
        heartbeat_interval: float = 5.0,
        termination_grace: float = 10.0,
        do_xcom_push: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(do_xcom_push=do_xcom_push, **kwargs)
        self.operation_id = operation_id
        self.rerun_of = rerun_of
        self.operator_uri = operator_uri
        self.fiftyops_conn_id = fiftyops_conn_id
        self.heartbeat_interval = heartbeat_interval
        self.termination_grace = termination_grace
        self._executor: Executor | None = None
        self.run_page_url: str | None = None  # the operation's Run page, once this try claimed it

    def execute(self, context: Context) -> dict[str, Any]:
        hook = task_hook(self.fiftyops_conn_id)  # the one the task start's parse looked up
        service = hook.get_service()
        attempt = _attempt(context)
        user = triggering_user(context["dag_run"])
        uri = self.operator_uri
        try:
            doc = operation_for_attempt(
                service,
                attempt,
                operation_id=self.operation_id or None,
                rerun_of=self.rerun_of or None,
                launch=(lambda: hook.launch_from_params(uri, context["params"], user)) if uri else None,
                user=user,
                adopt_if=dispatched_to(context["ti"].run_id),
                check_rerun=rerun_checker(hook),
            )
        except NothingToRun as exc:
            raise AirflowSkipException(str(exc)) from exc
        except (StoreError, PluginError, ValueError) as exc:
            raise AirflowFailException(str(exc)) from exc
        ti = context["ti"]
        self.log.info("Running delegated operation %s (%s), attempt %d", doc.id, doc.operator, doc.attempt + 1)

        publisher: threading.Timer | None = None

        def publish_run_link(claimed: DelegatedOperationDocument) -> None:
            """Off the claim's path, and only for a run that lasts: each XCom is a write to
            Airflow's metadata database. Where task comms are not thread-safe (Airflow < 3.2), it
            is pushed at once, from this (the task's main) thread."""
            nonlocal publisher
            self.run_page_url = FiftyOpsRunLink.url_for(str(claimed.id))
            link = {"key": FiftyOpsRunLink().xcom_key, "value": self.run_page_url}
            if not task_comms_thread_safe():
                ti.xcom_push(**link)
                return
            publisher = threading.Timer(LINK_PUBLISH_DELAY, ti.xcom_push, kwargs=link)
            publisher.daemon = True
            publisher.start()

        self._executor = hook.get_executor(
            service,
            heartbeat_interval=self.heartbeat_interval,
            termination_grace=self.termination_grace,
            executor_id=attempt.task_key,
            keep_dispatch_on_requeue=True,
        )
        try:
            outcome = self._executor.run(
                doc,
                run_link=task_url_for(ti),
                log_path=task_log_path_for(ti),
                claim_token=attempt.claim_token,
                on_claimed=publish_run_link,
            )
        finally:
            if publisher is not None:
                publisher.cancel()
        if outcome.state is OutcomeState.COMPLETED:
            return {"operation_id": outcome.operation_id, "result": outcome.result}
        if outcome.state is OutcomeState.REQUEUED:
            raise AirflowException(
                f"Operation {outcome.operation_id}: {outcome.error_message}; Airflow's retry runs the next attempt."
            )
        if outcome.state is OutcomeState.NOT_CLAIMED:
            raise AirflowSkipException(f"Operation {outcome.operation_id} was claimed by another run.")
        raise AirflowFailException(f"Operation {outcome.operation_id} failed: {outcome.error_message}")

    def on_kill(self) -> None:
        """Mark failed / clear / execution_timeout: stop the operation and record why, within the
        ~5 s Airflow's supervisor allows between SIGTERM and SIGKILL."""
        if self._executor is not None:
            self._executor.shutdown(
                "terminated from Airflow (task killed, marked failed or cleared)",
                requested_by="airflow",
                grace=ON_KILL_GRACE,
                wait=True,
            )


def mark_operation_failed(context: Context) -> None:
    """Failure callback: a try that ended without recording (worker lost, heartbeat timeout, marked
    failed before the run started) leaves its operation failed instead of stuck. A try that died
    before it even claimed its operation fails the waiting operation too: its run will not start
    again, and a later dispatch would find this run's id taken."""
    task = cast(ExecuteDelegatedOperationOperator, context["task"])  # the callback of this operator only
    service = FiftyOpsHook(task.fiftyops_conn_id).get_service()
    reason = f"because the Airflow task ended without finishing it: {context.get('exception') or 'task failed'}"
    claimed = claimed_by(service, _attempt(context))
    try:
        if claimed is not None:
            service.mark_failed(claimed.id, reason, "airflow", claim_token=claimed.claim_token)
        elif (waiting := (context.get("params") or {}).get("operation_id")) and dispatched_to(context["ti"].run_id)(
            service.get(waiting)
        ):  # never another run's operation
            service.mark_failed(waiting, reason, "airflow", required_state=S.QUEUED)
    except StoreError:  # finished meanwhile, or not an operation id: nothing is left to fail
        pass
