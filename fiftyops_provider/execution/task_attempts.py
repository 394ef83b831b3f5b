"""Which operation an orchestrator's task try runs, by Airflow's retry and clear semantics.

An orchestrator task (one Airflow task instance, tried one or more times) is bound to one
operation through its run configuration. Each try claims that operation with a token naming the
task instance and the try, so a later try can recognise a claim left by an earlier one:

* queued (or scheduled): claim it; a scheduled one is admitted first, because the orchestrator's
  own quota (the Airflow pool) already admitted the task.
* running under an earlier try of the same task instance: that try's process is gone (Airflow
  starts a new try only after the old one ended), so its claim is released and taken over.
* running under anyone else: refused (never two runs of one operation).
* completed or failed, on a later try: the task was cleared to run again. Terminal states are
  final, so the rerun is a new operation (``rerun_of`` = the original), which this try runs.
* completed or failed on the first try: it finished while its run waited to start (terminated,
  or failed by an admin); there is nothing to run.

A run is started by whoever may start runs in the orchestrator, which is not FiftyOps' access
control. So a run adopts an existing operation only if the dispatcher handed it that operation
(``adopt_if``), and every operation a run creates (``rerun_of``, or a clear of a finished
operation) first passes the re-run checks as the user it is queued for (``check_rerun``). A
refusal writes nothing.

Nothing here imports Airflow; the Airflow operator passes the identifiers and both rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fiftyops_provider.execution import claims
from fiftyops_provider.store import DelegatedOperationDocument, DelegatedOperationService
from fiftyops_provider.store import ExecutionRunState as S


class NothingToRun(RuntimeError):
    """This try has no operation to run (the task skips, saying why)."""


class OperationBusy(NothingToRun):
    """The operation is running under another executor; this try must not run it too."""


class OperationAlreadyFinished(NothingToRun):
    """The operation finished before its run's first try started."""


class NotDispatchedHere(ValueError):
    """The run names an operation the dispatcher did not hand to it (the task fails)."""


@dataclass(frozen=True)
class TaskAttempt:
    """One try of one orchestrator task instance, e.g. Airflow's (dag, run, task, map index, try)."""

    task_key: str
    try_number: int

    @classmethod
    def for_airflow(cls, dag_id: str, run_id: str, task_id: str, map_index: int | None, try_number: int) -> TaskAttempt:
        return cls(claims.airflow_identity(dag_id, run_id, task_id, map_index), try_number)

    @property
    def claim_token(self) -> str:
        return claims.claim_token(self.task_key, self.try_number)

    def is_earlier_try(self, token: str | None) -> bool:
        return claims.is_claim_of(self.task_key, token) and token != self.claim_token


def operation_for_attempt(
    service: DelegatedOperationService,
    attempt: TaskAttempt,
    *,
    operation_id: str | None = None,
    rerun_of: str | None = None,
    launch: Callable[[], DelegatedOperationDocument] | None = None,
    user: str | None = None,
    adopt_if: Callable[[DelegatedOperationDocument], bool],
    check_rerun: Callable[[DelegatedOperationDocument, str | None], None],
) -> DelegatedOperationDocument:
    """The queued operation ``attempt`` must claim: ``operation_id`` if given, else a new run of
    ``rerun_of``, else what ``launch()`` queues (an operation started from the orchestrator).

    :param user: who started the run; a ``rerun_of`` operation is queued for them.
    :param adopt_if: whether the dispatcher handed this run the operation ``operation_id`` names;
        if not, ``NotDispatchedHere`` is raised.
    :param check_rerun: raises unless the user (second argument) may re-run the operation.
    """
    if operation_id:
        doc = service.get(operation_id)
        if not adopt_if(doc):
            raise NotDispatchedHere(
                f"Operation {doc.id} was not dispatched to this run, so it may not run it: only the FiftyOps "
                "dispatcher starts runs of queued operations. To run it again, trigger with "
                f'{{"rerun_of": "{doc.id}"}}.'
            )
    elif rerun_of:
        original = service.get(rerun_of)
        check_rerun(original, user)
        doc = service.rerun_operation(original.id, queued_by=user)
    elif launch is not None:
        doc = launch()
    else:
        raise ValueError("Give the operation to run (operation_id), one to rerun (rerun_of), or inputs to launch one.")

    if doc.run_state is S.RUNNING:
        if not attempt.is_earlier_try(doc.claim_token):
            raise OperationBusy(
                f"Operation {doc.id} is already running (claimed by {doc.claim_token}); "
                "terminate it first if this task should run it instead."
            )
        service.requeue(doc.id, claim_token=doc.claim_token, keep_dispatch=True)
    elif doc.is_terminal:
        if attempt.try_number <= 1:
            raise OperationAlreadyFinished(
                f"Operation {doc.id} was already {doc.run_state.value} when this run started (terminated or failed "
                "while it waited); nothing to run. Clear this task to run it again as a new operation."
            )
        check_rerun(doc, doc.queued_by)  # a clear reruns the operation for its owner
        doc = service.rerun_operation(doc.id, queued_by=doc.queued_by)
    if doc.run_state is S.QUEUED:  # the dispatched case: no further read before the claim
        return doc
    if service.get(doc.id).run_state is S.SCHEDULED:
        service.set_queued(doc.id, required_state=S.SCHEDULED)
    return service.get(doc.id)


def claimed_by(service: DelegatedOperationService, attempt: TaskAttempt) -> DelegatedOperationDocument | None:
    """The operation this try holds, if it is still running (for failure callbacks that run in
    another process and know only the task instance)."""
    return service.find_claimed(attempt.claim_token)
