"""Run-state transitions as a user of the store sees them: queue, admit, claim, finish, fail."""

from __future__ import annotations

import pytest

from fiftyops_provider.store import (
    ExecutionResult,
    IllegalTransition,
    InvalidOperationId,
    OperationNotFound,
)
from fiftyops_provider.store import (
    ExecutionRunState as S,
)

CTX = {"request_params": {"dataset_name": "quickstart", "params": {"n": 1}}}


def test_new_operation_is_scheduled_with_fiftyone_fields(service):
    doc = service.queue_operation("@org/p/op", label="Op", context=CTX, queued_by="alice")
    assert doc.run_state is S.SCHEDULED
    assert doc.scheduled_at is not None and doc.queued_at is None
    stored = service.get(doc.id)
    assert stored.label == "Op" and stored.queued_by == "alice"
    assert stored.request_params["delegated"] is True
    assert stored.params == {"n": 1}


def test_label_defaults_to_operator_uri(service):
    assert service.queue_operation("@org/p/op").label == "@org/p/op"


def test_full_lifecycle_sets_each_timestamp(service):
    doc = service.queue_operation("@org/p/op", context=CTX)
    assert service.set_queued(doc.id).queued_at is not None
    running = service.set_running(doc.id, run_link="http://x/y", log_path="/tmp/l.log", required_state="queued")
    assert running.run_state is S.RUNNING and running.started_at and running.attempt == 1
    assert running.run_link == "http://x/y" and running.log_path == "/tmp/l.log"
    done = service.set_completed(doc.id, result={"count": 3}, required_state=S.RUNNING)
    assert done.run_state is S.COMPLETED and done.completed_at
    assert done.result.result == {"count": 3}


def test_outputs_schema_goes_to_metadata(service, operations):
    doc = service.queue_operation("@org/p/op", initial_state="queued")
    service.set_running(doc.id)
    done = service.set_completed(doc.id, result=ExecutionResult(result={"a": 1}, outputs_schema={"type": "object"}))
    assert done.metadata["outputs_schema"] == {"type": "object"}
    assert "outputs_schema" not in operations.find_one({"_id": doc.id})["result"]


def test_compare_and_set_mismatch_returns_none_and_changes_nothing(service):
    doc = service.queue_operation("@org/p/op")
    assert service.set_running(doc.id, required_state="queued") is None
    assert service.get(doc.id).run_state is S.SCHEDULED


def test_terminal_states_are_final(service):
    doc = service.queue_operation("@org/p/op", initial_state="queued")
    service.set_failed(doc.id, result=ExecutionResult(error="boom"))
    with pytest.raises(IllegalTransition, match="final"):
        service.set_queued(doc.id)
    with pytest.raises(IllegalTransition):
        service.set_completed(doc.id)


def test_required_state_outside_the_state_machine_is_refused(service):
    doc = service.queue_operation("@org/p/op")
    with pytest.raises(IllegalTransition, match="scheduled to completed"):
        service.set_completed(doc.id, required_state="scheduled")


def test_completion_after_external_failure_is_not_recorded(service):
    doc = service.queue_operation("@org/p/op", initial_state="queued")
    claim = service.set_running(doc.id, required_state="queued")
    service.set_failed(doc.id)  # marked failed by a user while it ran
    assert (
        service.set_completed(doc.id, result={"x": 1}, required_state="running", claim_token=claim.claim_token) is None
    )
    assert service.get(doc.id).run_state is S.FAILED


def test_claim_token_guards_completion(service):
    doc = service.queue_operation("@org/p/op", initial_state="queued")
    service.set_running(doc.id)
    assert service.set_completed(doc.id, required_state="running", claim_token="someone-else") is None


def test_requeue_counts_attempts(service):
    doc = service.queue_operation("@org/p/op", initial_state="queued")
    first = service.set_running(doc.id)
    requeued = service.requeue(doc.id, claim_token=first.claim_token)
    assert requeued.run_state is S.QUEUED and requeued.claim_token is None
    assert service.set_running(doc.id).attempt == 2


def test_failure_of_pipeline_child_is_recorded_on_parent(service, operations):
    parent = service.queue_operation("@org/p/pipe", pipeline={"stages": [{"operator_uri": "@org/p/a"}]})
    child = service.queue_operation("@org/p/a", parent_id=parent.id, initial_state="queued")
    service.set_failed(child.id, result=ExecutionResult(error="Traceback: boom"), update_pipeline=parent.id)
    raw = operations.find_one({"_id": parent.id})
    assert raw["pipeline_run_info"]["child_errors"][str(child.id)] == "Traceback: boom"


def test_mark_failed_records_who_and_why_and_the_pipeline_parent(service, operations):
    parent = service.queue_operation("@org/p/pipe", pipeline={"stages": [{"operator_uri": "@org/p/a"}]})
    child = service.queue_operation("@org/p/a", parent_id=parent.id, initial_state="queued")
    service.set_running(child.id)
    failed = service.mark_failed(child.id, "from the CLI", "olga")
    assert failed.run_state is S.FAILED and failed.result.error_message == "marked failed by olga from the CLI"
    raw = operations.find_one({"_id": parent.id})
    assert raw["pipeline_run_info"]["child_errors"][str(child.id)] == "marked failed by olga from the CLI"
    with pytest.raises(IllegalTransition, match="already failed; there is nothing to fail"):
        service.mark_failed(child.id, "again")


def test_mark_failed_never_overwrites_a_concurrent_transition(service):
    doc = service.queue_operation("@org/p/op", initial_state="queued")
    service.set_running(doc.id)  # it moved on after the caller read it queued
    with pytest.raises(IllegalTransition, match="changed meanwhile \\(it is running\\)"):
        service.mark_failed(doc.id, "from the Runs page", "uma", required_state=S.QUEUED)
    with pytest.raises(IllegalTransition, match="changed meanwhile"):
        service.mark_failed(doc.id, "callback", claim_token="another-try")
    assert service.get(doc.id).run_state is S.RUNNING


def test_find_claimed_knows_only_the_running_claim(service):
    doc = service.queue_operation("@org/p/op", initial_state="queued")
    service.set_running(doc.id, claim_token="airflow:d:r:t:-1#1")
    assert service.find_claimed("airflow:d:r:t:-1#1").id == doc.id
    assert service.find_claimed("airflow:d:r:t:-1#2") is None
    service.set_completed(doc.id)
    assert service.find_claimed("airflow:d:r:t:-1#1") is None


def test_terminate_before_running_fails_at_once(service):
    doc = service.queue_operation("@org/p/op")
    out = service.terminate(doc.id, reason="not needed", requested_by="bob")
    assert out.run_state is S.FAILED
    assert "terminated by bob: not needed" in out.result.error
    assert out.termination["requested_by"] == "bob"


def test_terminate_running_records_request(service):
    doc = service.queue_operation("@org/p/op", initial_state="queued")
    service.set_running(doc.id)
    out = service.terminate(doc.id, reason="stop", requested_by="bob")
    assert out.run_state is S.RUNNING and out.termination["reason"] == "stop"
    service.set_completed(doc.id)
    with pytest.raises(IllegalTransition, match="nothing to terminate"):
        service.terminate(doc.id)


def test_unknown_and_malformed_ids(service):
    with pytest.raises(OperationNotFound, match="No delegated operation"):
        service.get("0123456789abcdef01234567")
    with pytest.raises(InvalidOperationId, match="24-character"):
        service.get("not-an-id")
    with pytest.raises(InvalidOperationId):
        service.set_running({"$ne": None})


def test_ping_with_stale_claim_token_is_refused(service):
    doc = service.queue_operation("@org/p/op", initial_state="queued")
    claim = service.set_running(doc.id)
    assert service.ping(doc.id, claim_token=claim.claim_token).heartbeat_at is not None
    assert service.ping(doc.id, claim_token="stale") is None


def test_a_heartbeat_is_stamped_by_the_database_when_it_lands(service, monkeypatch):
    """An executor whose clock is behind (or whose ping waited out an election) still reads as
    alive now: the heartbeat's time is the database's, not the sender's."""
    from datetime import timedelta

    from fiftyops_provider.store import service as service_module
    from fiftyops_provider.store.documents import utcnow

    doc = service.queue_operation("@org/p/op", initial_state="queued")
    claim = service.set_running(doc.id)
    monkeypatch.setattr(service_module, "utcnow", lambda: utcnow() - timedelta(hours=1))
    before = utcnow()
    beat = service.ping(doc.id, claim_token=claim.claim_token).heartbeat_at
    assert abs((beat.replace(tzinfo=None) - before.replace(tzinfo=None)).total_seconds()) < 60
