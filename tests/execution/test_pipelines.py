"""Pipelines: stages in order with their params, always_run after a failure, stage progress,
and pipeline child operations recording their errors on the parent."""

from __future__ import annotations

from pathlib import Path

import pytest
from sample_operators import uri

from fiftyops_provider.execution import OutcomeState
from fiftyops_provider.plugins import Pipeline
from fiftyops_provider.store import ExecutionRunState as S
from fiftyops_provider.store import NotRerunnable


def _tags(path: Path) -> list[str]:
    return [line.split()[1] for line in path.read_text().splitlines()] if path.exists() else []


def test_pipeline_runs_stages_in_order_with_their_params(service, queue, make_executor, tmp_path):
    doc = queue("pipe", {"dir": str(tmp_path)})
    outcome = make_executor().run(doc.id)

    assert outcome.state is OutcomeState.COMPLETED and outcome.result is None
    assert _tags(tmp_path / "quick") == ["first", "second"]
    assert "active=True errors=None" in (tmp_path / "cleanup").read_text()
    stored = service.get(doc.id)
    assert stored.status.progress == 1.0 and stored.status.label == "3/3 stages done"
    log = Path(stored.log_path).read_text()
    assert (
        log.index("stage 1/3: first started")
        < log.index("stage 2/3: second started")
        < log.index("stage 3/3: cleanup finished")
    )


def test_stage_progress_is_visible_while_it_runs(service, queue, make_executor, background, wait_for, tmp_path):
    doc = queue("pipe", {"dir": str(tmp_path), "slow": True})
    future = background(make_executor().run, doc.id)
    seen = wait_for(lambda: (d := service.get(doc.id)).status and d.status.label.startswith("stage 2/4: slow") and d)
    assert seen.run_state is S.RUNNING and seen.status.progress == pytest.approx(0.25)
    assert future.result(timeout=30).state is OutcomeState.COMPLETED


def test_after_a_failure_only_always_run_stages_run_and_the_first_error_is_recorded(
    service, queue, make_executor, tmp_path
):
    doc = queue("pipe", {"dir": str(tmp_path), "fail": True})
    outcome = make_executor().run(doc.id)

    assert outcome.state is OutcomeState.FAILED
    assert _tags(tmp_path / "quick") == ["first"]  # "second" was skipped
    assert (tmp_path / "raising").exists()
    cleanup = (tmp_path / "cleanup").read_text()
    assert "active=False" in cleanup and "'1': 'Failed to execute pipeline stage[1] (explode)" in cleanup
    stored = service.get(doc.id)
    assert stored.run_state is S.FAILED
    assert (
        stored.result.error_message == "Failed to execute pipeline stage[1] (explode): ValueError: boom: stage failure"
    )
    assert "Traceback" in stored.result.error and "boom: stage failure" in stored.result.error
    assert "stage 3/4: second skipped" in Path(stored.log_path).read_text()


def test_pipeline_stored_on_the_document_is_the_one_that_runs(service, make_executor, tmp_path):
    pipeline = Pipeline().stage(uri("quick"), name="only", params={"a": 1, "dir": str(tmp_path), "tag": "stored"})
    doc = service.queue_operation(
        uri("pipe"),
        pipeline=pipeline,
        initial_state="queued",
        context={"request_params": {"params": {"dir": str(tmp_path)}}},
    )
    assert make_executor().run(doc.id).state is OutcomeState.COMPLETED
    assert _tags(tmp_path / "quick") == ["stored"]


def test_a_disabled_stage_operator_fails_the_pipeline_before_it_starts(service, queue, make_executor, db, tmp_path):
    db.sample_acl.insert_one({"uri": uri("cleanup"), "disabled": True})
    doc = queue("pipe", {"dir": str(tmp_path)})
    outcome = make_executor().run(doc.id)
    assert (
        outcome.state is OutcomeState.FAILED and "Operator @test/samples/cleanup is disabled" in outcome.error_message
    )
    assert not (tmp_path / "quick").exists()


def test_child_operation_error_is_recorded_on_the_parent_and_children_cannot_be_rerun(
    service, operations, make_executor
):
    pipeline = Pipeline().stage(uri("pipeline_probe"), name="a").stage(uri("pipeline_probe"), name="b")
    parent = service.queue_operation(uri("pipe"), pipeline=pipeline)
    operations.update_one(
        {"_id": parent.id}, {"$set": {"pipeline_run_info": {"active": True, "stage_index": 1, "child_errors": None}}}
    )
    ok_child = service.queue_operation(uri("pipeline_probe"), parent_id=parent.id, initial_state="queued")
    bad_child = service.queue_operation(
        uri("pipeline_probe"),
        parent_id=parent.id,
        initial_state="queued",
        context={"request_params": {"params": {"fail": True}}},
    )
    executor = make_executor()

    assert executor.run(ok_child.id).result == {"total_stages": 2, "stage": 1}
    failed = executor.run(bad_child.id)

    assert failed.state is OutcomeState.FAILED
    assert failed.error_message == "RuntimeError: child failed at stage 1"
    errors = service.get(parent.id).pipeline_run_info["child_errors"]
    assert list(errors) == [str(bad_child.id)] and "child failed at stage 1" in errors[str(bad_child.id)]
    with pytest.raises(NotRerunnable):
        service.rerun_operation(bad_child.id)
