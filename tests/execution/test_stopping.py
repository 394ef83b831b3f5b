"""Stopping runs: termination (cooperative and forced), timeouts with both on_reset policies,
killed children, killed executors and the reaper."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from executor_fixtures import process_gone
from sample_operators import SOURCE

from fiftyops_provider.execution import OutcomeState, reap_stale_operations
from fiftyops_provider.store import ExecutionRunState as S


def _running(service, doc_id):
    return service.get(doc_id).run_state is S.RUNNING


def _started(executor):
    return executor.current_pid is not None


def test_terminate_is_honored_at_the_next_checkpoint(service, queue, make_executor, background, wait_for, tmp_path):
    doc = queue("sleeper", {"dir": str(tmp_path)})
    executor = make_executor(termination_grace=10)
    future = background(executor.run, doc.id)
    wait_for(lambda: _started(executor) and _running(service, doc.id))
    pid = executor.current_pid
    time.sleep(0.3)

    service.terminate(doc.id, "no longer needed", requested_by="bob")
    started = time.monotonic()
    outcome = future.result(timeout=30)

    assert time.monotonic() - started < 3  # well within the 10 s grace: stopped cooperatively
    assert outcome.state is OutcomeState.FAILED and outcome.terminated and outcome.exit_code == 0
    stored = service.get(doc.id)
    assert stored.run_state is S.FAILED
    assert stored.result.error_message == "Terminated by bob: no longer needed"
    assert stored.result.result == {
        "terminated": True,
        "requested_by": "bob",
        "reason": "no longer needed",
        "forced": False,
    }
    assert "OperationTerminated: no longer needed" in stored.result.error  # the operator's own traceback
    assert "no longer needed" in (tmp_path / "partial").read_text()  # partial work saved at the checkpoint
    assert process_gone(pid)


def test_terminate_kills_the_process_tree_when_the_operator_ignores_it(
    service, queue, make_executor, background, wait_for, tmp_path
):
    doc = queue("stubborn", {"dir": str(tmp_path), "seconds": 60})
    executor = make_executor(termination_grace=1.0)
    future = background(executor.run, doc.id)
    grandchild = int(
        wait_for(lambda: (tmp_path / "grandchild").exists() and (tmp_path / "grandchild").read_text().split()[1])
    )
    pid = executor.current_pid

    service.terminate(doc.id, "stop now", requested_by="carol")
    started = time.monotonic()
    outcome = future.result(timeout=30)

    assert 1.0 <= time.monotonic() - started < 4
    assert outcome.state is OutcomeState.FAILED and outcome.terminated and outcome.exit_code == -signal.SIGKILL
    stored = service.get(doc.id)
    assert stored.result.result["forced"] is True and stored.result.result["requested_by"] == "carol"
    assert stored.result.error_message.startswith("Terminated by carol: stop now (killed after the 1s grace period")
    wait_for(lambda: process_gone(pid) and process_gone(grandchild), timeout=2)


def test_terminate_current_from_the_orchestrator(service, queue, make_executor, background, wait_for):
    doc = queue("sleeper")
    executor = make_executor()
    future = background(executor.run, doc.id)
    wait_for(lambda: _started(executor))

    recorded = executor.terminate_current("Airflow task killed", requested_by="airflow")

    assert recorded.state is OutcomeState.FAILED and recorded.terminated
    assert service.get(doc.id).result.error_message == "Terminated by airflow: Airflow task killed"
    assert future.result(timeout=30) == recorded
    assert executor.terminate_current("again") is None


def test_shutdown_terminates_the_run_and_refuses_new_claims(service, queue, make_executor, background, wait_for):
    running, waiting = queue("sleeper"), queue("quick", {"a": 1})
    executor = make_executor()
    future = background(executor.run, running.id)
    wait_for(lambda: _started(executor))

    executor.shutdown("launcher stopping", requested_by="launcher", wait=True)

    assert future.result(timeout=10).terminated
    assert service.get(running.id).result.error_message == "Terminated by launcher: launcher stopping"
    assert executor.run(waiting.id).state is OutcomeState.NOT_CLAIMED
    assert service.get(waiting.id).run_state is S.QUEUED and service.get(waiting.id).attempt == 0


def test_terminate_current_from_a_signal_handler_on_the_running_thread(
    service, queue, make_executor, background, wait_for
):
    """Airflow 3 calls on_kill from its SIGTERM handler, on the thread that is inside run()."""
    doc = queue("stubborn", {"seconds": 60})
    executor = make_executor(termination_grace=30)
    from_handler = []
    previous = signal.signal(
        signal.SIGUSR1,
        lambda *_: from_handler.append(executor.terminate_current("SIGTERM", requested_by="airflow", grace=0.5)),
    )
    try:
        background(
            lambda: (wait_for(lambda: _started(executor)), time.sleep(0.3), os.kill(os.getpid(), signal.SIGUSR1))
        )
        outcome = executor.run(doc.id)
    finally:
        signal.signal(signal.SIGUSR1, previous)

    assert from_handler == [outcome]  # recorded inside the handler, before on_kill returned
    assert outcome.state is OutcomeState.FAILED and outcome.terminated
    stored = service.get(doc.id)
    assert stored.result.error_message.startswith("Terminated by airflow: SIGTERM (killed after the 0.5s grace period")


def test_marked_failed_while_running_stops_the_run_and_is_not_overwritten(
    service, queue, make_executor, background, wait_for, tmp_path
):
    doc = queue("sleeper", {"dir": str(tmp_path)})
    executor = make_executor()
    future = background(executor.run, doc.id)
    wait_for(lambda: _started(executor) and _running(service, doc.id))

    service.set_failed(doc.id)  # "Mark as failed" in the UI / CLI
    outcome = future.result(timeout=30)

    assert outcome.state is OutcomeState.FAILED and not outcome.terminated
    stored = service.get(doc.id)
    assert stored.run_state is S.FAILED and stored.result is None  # the manual fail stands
    assert (tmp_path / "partial").exists()
    assert "not recording a result" in Path(stored.log_path).read_text()
    assert "not recording a result" in stored.log_tail


def test_timeout_with_on_reset_failed(service, queue, make_executor):
    doc = queue("sleeper", execution_timeout=0.8)  # per-operation override of the operator's 60 s
    outcome = make_executor().run(doc.id)

    assert outcome.state is OutcomeState.FAILED and outcome.timed_out
    stored = service.get(doc.id)
    assert stored.run_state is S.FAILED and stored.attempt == 1
    assert stored.result.error_message == "Timed out after 0.8s (execution_timeout) (attempt 1; on_reset=failed)"


def test_timeout_with_on_reset_rerun_until_max_attempts(service, queue, make_executor):
    doc = queue("sleeperrerun", execution_timeout=0.8)
    executor = make_executor()

    first = executor.run(doc.id)
    assert first.state is OutcomeState.REQUEUED and first.timed_out and first.attempt == 1
    requeued = service.get(doc.id)
    assert requeued.run_state is S.QUEUED and requeued.attempt == 1 and requeued.claim_token is None

    second = executor.run(doc.id)
    assert second.state is OutcomeState.FAILED and second.attempt == 2
    stored = service.get(doc.id)
    assert stored.attempt == 2
    assert stored.result.error_message == "Timed out after 0.8s (execution_timeout) (attempt 2 of 2; on_reset=rerun)"
    log = Path(stored.log_path).read_text()
    assert "attempt 1 of" in log and "attempt 2 of" in log  # both attempts in one log file


def test_reaper_uses_failed_when_the_operator_cannot_be_loaded(service, operations, db):
    from datetime import timedelta

    from fiftyops_provider.store.documents import utcnow

    doc = service.queue_operation("@gone/plugin/op", initial_state="queued")
    service.set_running(doc.id, claim_token="dead-executor#1")
    operations.update_one({"_id": doc.id}, {"$set": {"heartbeat_at": utcnow() - timedelta(minutes=5)}})

    reaped = reap_stale_operations(service, SOURCE, stale_after=60)

    assert [r.state for r in reaped] == [S.FAILED]
    assert "on_reset=failed" in service.get(doc.id).result.error_message


class PingingSource:
    """An operator source whose policy lookup lets the run's executor ping first: the reaper
    looks up the policy between reading the stale runs and failing them, so this is a heartbeat
    landing after the reaper looked (as pings held up by a MongoDB election do)."""

    def __init__(self, service, claim_token: str) -> None:
        self.service, self.claim_token = service, claim_token

    def load_operator(self, uri: str):
        for doc in self.service.list_operations(run_state="running"):
            self.service.ping(doc.id, claim_token=self.claim_token)
        return SOURCE.load_operator(uri)


def test_a_run_whose_executor_pings_while_the_reaper_looks_stays_running(service, operations):
    from datetime import timedelta

    from fiftyops_provider.store.documents import utcnow

    doc = service.queue_operation("@gone/plugin/op", initial_state="queued")
    service.set_running(doc.id, claim_token="slow-executor#1")
    operations.update_one({"_id": doc.id}, {"$set": {"heartbeat_at": utcnow() - timedelta(minutes=5)}})

    reaped = reap_stale_operations(service, PingingSource(service, "slow-executor#1"), stale_after=60)

    assert reaped == []
    assert service.get(doc.id).run_state is S.RUNNING
    assert reap_stale_operations(service, SOURCE, stale_after=60) == []  # its heartbeat is fresh now
