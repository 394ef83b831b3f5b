"""A killed worker never strands an operation: SIGKILL of the operator's child process, or of the
executor (launcher) running it, leaves ``running`` within the bound (3 heartbeats) and follows the
operator's ``on_reset`` policy: failed, or queued again for exactly one more attempt."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from executor_fixtures import process_gone
from sample_operators import SOURCE

from fiftyops_provider.execution import reap_stale_operations
from fiftyops_provider.store import ExecutionRunState as S

EXECUTION_TESTS = Path(__file__).resolve().parents[1] / "execution"  # where the sample operators live


def _running(service, doc_id):
    return service.get(doc_id).run_state is S.RUNNING


@pytest.mark.parametrize(("operator", "expected"), [("sleeper", S.FAILED), ("sleeperrerun", S.QUEUED)])
def test_child_killed_with_sigkill_gets_the_reset_policy(
    service, queue, make_executor, background, wait_for, operator, expected
):
    doc = queue(operator)
    executor = make_executor()
    future = background(executor.run, doc.id)
    pid = wait_for(lambda: executor.current_pid)
    time.sleep(0.3)

    os.kill(pid, signal.SIGKILL)
    outcome = future.result(timeout=10)

    stored = service.get(doc.id)
    assert stored.run_state is expected and outcome.exit_code == -signal.SIGKILL
    if expected is S.FAILED:
        assert stored.result.error_message.startswith(
            "The worker process was killed by SIGKILL before reporting a result"
        )


def _start_launcher(processes, db, heartbeat: float) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(EXECUTION_TESTS), "FIFTYOPS_DATABASE_NAME": db.name}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fiftyops_provider.execution",
            "--source",
            SOURCE,
            "--max-operations",
            "1",
            "--heartbeat-interval",
            str(heartbeat),
            "--poll-interval",
            "0.1",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    processes.append(process)
    return process


@pytest.mark.parametrize(("operator", "expected"), [("sleeper", S.FAILED), ("sleeperrerun", S.QUEUED)])
def test_executor_killed_with_sigkill_is_reaped_within_the_bound(
    service, queue, db, processes, wait_for, operator, expected
):
    heartbeat = 0.2
    stale_after = 3 * heartbeat
    doc = queue(operator)
    launcher = _start_launcher(processes, db, heartbeat)
    wait_for(lambda: _running(service, doc.id), timeout=20)
    child = wait_for(lambda: psutil.Process(launcher.pid).children())[0]
    assert reap_stale_operations(service, SOURCE, stale_after=stale_after) == []  # alive: not stale

    launcher.kill()
    launcher.wait()
    killed_at = time.monotonic()
    reaped = wait_for(lambda: reap_stale_operations(service, SOURCE, stale_after=stale_after), timeout=10, interval=0.1)

    assert time.monotonic() - killed_at < stale_after + 1.0
    assert [(r.operation_id, r.state) for r in reaped] == [(str(doc.id), expected)]
    stored = service.get(doc.id)
    assert stored.run_state is expected
    if expected is S.FAILED:
        assert stored.result.error_message.startswith("No heartbeat from its executor since")
        assert "on_reset=failed" in stored.result.error_message
    wait_for(lambda: process_gone(child.pid), timeout=5)  # the child noticed its executor was gone
