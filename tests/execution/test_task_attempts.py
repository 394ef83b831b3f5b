"""Which operation an Airflow task try runs: first try, retry takeover, clear = rerun, refusals,
and the two rules on what a run's conf may ask for (adopt only what was dispatched to it; re-run
only what the user may re-run), each refusing before anything is written."""

from __future__ import annotations

from functools import partial

import pytest

from fiftyops_provider.execution.task_attempts import (
    NotDispatchedHere,
    OperationAlreadyFinished,
    OperationBusy,
    TaskAttempt,
    claimed_by,
)
from fiftyops_provider.execution.task_attempts import operation_for_attempt as rules_for_attempt
from fiftyops_provider.plugins.errors import PermissionDenied
from fiftyops_provider.store import ExecutionRunState as S


def allow_rerun(doc, user) -> None:
    pass


# Most tests are about claims, not about the two rules: every operation counts as dispatched here.
operation_for_attempt = partial(rules_for_attempt, adopt_if=lambda doc: True, check_rerun=allow_rerun)

TRY1 = TaskAttempt.for_airflow("fiftyops__p__op", "manual__2026-11-22T09:05:19+00:00", "run_operation", -1, 1)
TRY2 = TaskAttempt.for_airflow("fiftyops__p__op", "manual__2026-11-22T09:05:19+00:00", "run_operation", -1, 2)
OTHER = TaskAttempt.for_airflow("fiftyops__p__op", "manual__other", "run_operation", -1, 1)


def test_first_try_admits_a_scheduled_operation(service):
    doc = service.queue_operation("@o/p/op")
    ready = operation_for_attempt(service, TRY1, operation_id=str(doc.id))
    assert ready.id == doc.id and ready.run_state is S.QUEUED


def test_a_retry_takes_over_the_claim_of_its_dead_earlier_try(service):
    doc = service.queue_operation("@o/p/op", initial_state="queued")
    service.set_running(doc.id, claim_token=TRY1.claim_token)
    ready = operation_for_attempt(service, TRY2, operation_id=str(doc.id))
    assert ready.id == doc.id and ready.run_state is S.QUEUED
    assert service.set_running(doc.id, required_state="queued", claim_token=TRY2.claim_token).attempt == 2


def test_an_operation_running_elsewhere_is_refused(service):
    doc = service.queue_operation("@o/p/op", initial_state="queued")
    service.set_running(doc.id, claim_token=OTHER.claim_token)
    with pytest.raises(OperationBusy, match="already running"):
        operation_for_attempt(service, TRY2, operation_id=str(doc.id))
    assert service.get(doc.id).claim_token == OTHER.claim_token


def test_clearing_a_finished_task_reruns_it_as_a_new_operation(service):
    doc = service.queue_operation("@o/p/op", initial_state="queued", queued_by="alice")
    service.set_running(doc.id, claim_token=TRY1.claim_token)
    service.set_completed(doc.id, result={"n": 1})
    ready = operation_for_attempt(service, TRY2, operation_id=str(doc.id))
    assert ready.id != doc.id and ready.rerun_of == doc.id and ready.run_state is S.QUEUED
    assert ready.queued_by == "alice"
    assert service.get(doc.id).run_state is S.COMPLETED


def test_an_operation_terminated_while_its_run_waited_is_not_rerun(service):
    """A dispatched run whose operation was terminated before its first try started has nothing
    to run: it must not bring the operation back as a new one."""
    doc = service.queue_operation("@o/p/op", initial_state="queued")
    service.terminate(doc.id, reason="not needed", requested_by="alice")
    with pytest.raises(OperationAlreadyFinished, match="already failed when this run started"):
        operation_for_attempt(service, TRY1, operation_id=str(doc.id))
    assert service.count() == 1 and service.get(doc.id).run_state is S.FAILED


def test_rerun_of_and_launch(service):
    done = service.queue_operation("@o/p/op", initial_state="queued")
    service.set_running(done.id)
    service.set_failed(done.id)
    rerun = operation_for_attempt(service, TRY1, rerun_of=str(done.id), user="bob")
    assert rerun.rerun_of == done.id and rerun.queued_by == "bob" and rerun.run_state is S.QUEUED
    launched = operation_for_attempt(service, OTHER, launch=lambda: service.queue_operation("@o/p/new"))
    assert launched.operator == "@o/p/new" and launched.run_state is S.QUEUED
    with pytest.raises(ValueError, match="Give the operation"):
        operation_for_attempt(service, OTHER)


def test_claimed_by_finds_the_running_operation_of_a_try(service):
    doc = service.queue_operation("@o/p/op", initial_state="queued")
    assert claimed_by(service, TRY1) is None
    service.set_running(doc.id, claim_token=TRY1.claim_token)
    assert claimed_by(service, TRY1).id == doc.id
    assert claimed_by(service, TRY2) is None


def test_a_run_adopts_only_the_operation_dispatched_to_it(service):
    waiting = service.queue_operation("@o/p/op", initial_state="queued", queued_by="alice")
    before = service.get(waiting.id)
    with pytest.raises(NotDispatchedHere, match=r"was not dispatched to this run.*rerun_of"):
        rules_for_attempt(
            service, OTHER, operation_id=str(waiting.id), adopt_if=lambda doc: False, check_rerun=allow_rerun
        )
    assert service.get(waiting.id) == before and service.count() == 1


def test_rerun_of_and_clear_are_checked_as_their_user_before_anything_is_written(service):
    done = service.queue_operation("@o/p/op", initial_state="queued", queued_by="alice")
    service.set_running(done.id, claim_token=TRY1.claim_token)
    service.set_completed(done.id, result={"n": 1})
    asked = []

    def refuse(doc, user):
        asked.append((doc.id, user))
        raise PermissionDenied(f"{user} may not re-run {doc.id}")

    with pytest.raises(PermissionDenied, match="mallory may not"):
        rules_for_attempt(service, OTHER, rerun_of=str(done.id), user="mallory", adopt_if=None, check_rerun=refuse)
    with pytest.raises(PermissionDenied, match="alice may not"):  # a clear reruns it for its owner
        rules_for_attempt(
            service, TRY2, operation_id=str(done.id), user="airflow-api", adopt_if=lambda d: True, check_rerun=refuse
        )
    assert asked == [(done.id, "mallory"), (done.id, "alice")]
    assert service.count() == 1
