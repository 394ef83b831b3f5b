"""A run end to end on a real mongod and a real child process: claim, result, errors, checks."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sample_operators import uri

from fiftyops_provider.execution import OutcomeState
from fiftyops_provider.store import ExecutionRunState as S


def test_success_records_result_outputs_schema_log_and_attempt(service, queue, make_executor, tmp_path):
    doc = queue("quick", {"a": 1, "dir": str(tmp_path)})
    outcome = make_executor().run(doc.id)

    assert outcome.state is OutcomeState.COMPLETED and outcome.result == {"sum": 3}
    assert outcome.pid and outcome.exit_code == 0
    stored = service.get(doc.id)
    assert stored.run_state is S.COMPLETED
    assert stored.result.result == {"sum": 3} and stored.result.error is None
    assert stored.metadata["outputs_schema"]["properties"] == {"sum": {"type": "integer", "title": "sum"}}
    assert stored.attempt == 1 and stored.claim_token.endswith("#1") and stored.monitored
    day = doc.id.generation_time
    expected_log = Path(tmp_path / "fiftyops-home" / "logs" / f"{day:%Y}" / f"{day:%m}" / f"{day:%d}" / f"{doc.id}.log")
    assert stored.log_path == str(expected_log) and expected_log.exists()
    assert stored.log_size == expected_log.stat().st_size > 0
    assert "attempt 1 of @test/samples/quick" in stored.log_tail
    assert (tmp_path / "quick").read_text().startswith(str(doc.id))


def test_failure_records_message_and_full_traceback(service, queue, make_executor):
    doc = queue("raising", {"why": "bad input"})
    outcome = make_executor().run(doc.id)

    assert outcome.state is OutcomeState.FAILED
    stored = service.get(doc.id)
    assert stored.run_state is S.FAILED
    assert stored.result.error_message == "ValueError: boom: bad input"
    assert "Traceback (most recent call last)" in stored.result.error
    assert 'sample_operators.py", line' in stored.result.error
    assert "boom: bad input" in stored.log_tail


def test_invalid_params_fail_before_execute(service, queue, make_executor, tmp_path):
    doc = queue("quick", {"a": "one", "dir": str(tmp_path)})
    make_executor().run(doc.id)
    stored = service.get(doc.id)
    assert stored.run_state is S.FAILED
    assert "InvalidParams" in stored.result.error_message and "a: expected integer" in stored.result.error_message
    assert not (tmp_path / "quick").exists()


def test_unserializable_result_is_a_clear_error(service, queue, make_executor):
    doc = queue("bad_result")
    make_executor().run(doc.id)
    stored = service.get(doc.id)
    assert stored.run_state is S.FAILED
    assert stored.result.error_message.startswith("The operator's result cannot be stored")
    assert "set" in stored.result.error_message


def test_not_queued_is_not_claimed_and_not_touched(service, operations, queue, make_executor):
    doc = queue("quick", {"a": 1})
    executor = make_executor()
    assert executor.run(doc.id).state is OutcomeState.COMPLETED
    before = operations.find_one({"_id": doc.id})

    again = executor.run(doc.id)

    assert again.state is OutcomeState.NOT_CLAIMED and again.pid is None
    assert operations.find_one({"_id": doc.id}) == before
    scheduled = service.queue_operation(uri("quick"), context={"request_params": {"params": {"a": 1}}})
    assert executor.run(scheduled.id).state is OutcomeState.NOT_CLAIMED
    assert service.get(scheduled.id).run_state is S.SCHEDULED


def test_exactly_once_when_executors_race_for_the_same_operation(service, queue, make_executor, background, tmp_path):
    doc = queue("quick", {"a": 1, "dir": str(tmp_path)})
    executors = [make_executor() for _ in range(4)]
    start = threading.Barrier(len(executors))

    def race(executor):
        start.wait()
        return executor.run(doc.id)

    outcomes = [f.result(timeout=60) for f in [background(race, e) for e in executors]]

    assert sorted(o.state.value for o in outcomes) == ["completed"] + ["not_claimed"] * 3
    assert len((tmp_path / "quick").read_text().splitlines()) == 1
    assert service.get(doc.id).attempt == 1


def test_exactly_once_with_concurrent_queue_drains(service, queue, make_executor, background, tmp_path):
    from fiftyops_provider.execution import execute_queued_operations

    docs = [queue("quick", {"a": i, "dir": str(tmp_path), "tag": str(i)}) for i in range(8)]
    drains = [
        background(
            execute_queued_operations, service, **{"source": "sample_operators:make_source", "heartbeat_interval": 0.2}
        )
        for _ in range(3)
    ]
    results = [r for f in drains for r in f.result(timeout=120)]

    assert len(results) == 8 and all(r.error is None for r in results)
    lines = (tmp_path / "quick").read_text().splitlines()
    assert sorted(line.split()[0] for line in lines) == sorted(str(d.id) for d in docs)
    assert all(service.get(d.id).run_state is S.COMPLETED and service.get(d.id).attempt == 1 for d in docs)


@pytest.mark.parametrize(
    ("acl", "expected"),
    [
        ({"uri": uri("quick"), "user": "alice", "revoked": True}, "PermissionDenied"),
        ({"uri": uri("quick"), "disabled": True}, "is disabled"),
    ],
)
def test_permission_revoked_or_operator_disabled_after_queueing_fails_the_run(
    service, queue, make_executor, db, tmp_path, acl, expected
):
    doc = queue("quick", {"a": 1, "dir": str(tmp_path)}, queued_by="alice")
    db.sample_acl.insert_one(acl)

    outcome = make_executor().run(doc.id)

    assert outcome.state is OutcomeState.FAILED and outcome.pid is None
    stored = service.get(doc.id)
    assert stored.run_state is S.FAILED
    assert stored.result.error_message.startswith(f"Operation {doc.id} cannot run {uri('quick')}: ")
    assert expected in stored.result.error_message or expected in stored.result.error
    assert not (tmp_path / "quick").exists()


def test_unknown_operator_fails_with_clear_message(service, make_executor):
    doc = service.queue_operation(uri("nope"), initial_state="queued")
    make_executor().run(doc.id)
    assert "No operator '@test/samples/nope'" in service.get(doc.id).result.error_message


def test_service_execute_operation_returns_execution_result(service, queue):
    doc = queue("quick", {"a": 5})
    result = service.execute_operation(doc, source="sample_operators:make_source")
    assert result.result == {"sum": 7} and result.error is None
    assert service.execute_operation(doc.id, source="sample_operators:make_source") is None


def test_context_has_the_dataset_by_id_the_user_and_the_run_doc(service, make_executor):
    dataset_id = "64b7f0c2a1b2c3d4e5f60718"
    doc = service.queue_operation(
        uri("dataset_probe"),
        initial_state="queued",
        queued_by="dora",
        context={"request_params": {"dataset_name": "old-name", "dataset_id": dataset_id, "params": {}}},
    )
    assert make_executor().run(doc.id).result == {
        "dataset": {"id": dataset_id, "name": "old-name"},
        "user": "dora",
        "run_doc": str(doc.id),
    }


def test_on_claimed_sees_the_claim_before_the_operator_starts(service, queue, make_executor, tmp_path):
    doc = queue("quick", {"a": 1, "dir": str(tmp_path)})
    seen = []

    def on_claimed(claimed):
        seen.append((claimed.id, service.get(doc.id).run_state, (tmp_path / "quick").exists()))

    outcome = make_executor().run(doc, on_claimed=on_claimed)  # the document as given: no re-read
    assert outcome.state is OutcomeState.COMPLETED
    assert seen == [(doc.id, S.RUNNING, False)]


def test_a_failing_on_claimed_fails_the_run_instead_of_leaving_it_running(service, queue, make_executor, tmp_path):
    doc = queue("quick", {"a": 1, "dir": str(tmp_path)})

    def on_claimed(claimed):
        raise ConnectionError("the orchestrator's API is down")

    outcome = make_executor().run(doc.id, on_claimed=on_claimed)
    assert outcome.state is OutcomeState.FAILED
    stored = service.get(doc.id)
    assert stored.run_state is S.FAILED and "the orchestrator's API is down" in stored.result.error_message
    assert not (tmp_path / "quick").exists()  # the operator never ran
