"""The Airflow scheduler is killed (SIGKILL) while an operation runs, and a new one is started:
the running operation finishes exactly once (one claim, one Airflow try), and operations queued
after the restart are dispatched and run. Part of the reliability suite (see README)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import unquote

import psutil
import pytest

from fiftyops_provider.dag_factory.naming import DISPATCHER_DAG_ID, operator_dag_id
from fiftyops_provider.plugins.delegate import delegate
from tests.airflow.conftest import E2E_DATASET, running_stack

pytestmark = pytest.mark.airflow

SLEEP = "@fiftyops/utils/sleep"


@pytest.fixture(scope="module")
def stack(mongod, mongo_client, tmp_path_factory):
    wanted = {DISPATCHER_DAG_ID, operator_dag_id(SLEEP)}
    with running_stack(mongod, mongo_client, tmp_path_factory.mktemp("restart"), "fiftyops_restart", wanted) as stack:
        yield stack


def scheduler_of(standalone) -> psutil.Process:
    """The ``airflow scheduler`` process standalone started (its LocalExecutor workers, forked
    from it, carry the same command line but are its children)."""
    for process in psutil.Process(standalone.process.pid).children():
        if process.cmdline()[-1:] == ["scheduler"]:
            return process
    raise AssertionError("standalone has no scheduler process")


@pytest.fixture
def replacement_scheduler(stack) -> Iterator[Callable[[], subprocess.Popen]]:
    """Starts a new ``airflow scheduler`` on the same deployment; stopped by PID afterwards."""
    started: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        with open(stack.home / "replacement-scheduler.log", "ab") as log:
            process = subprocess.Popen(
                [str(Path(sys.executable).parent / "airflow"), "scheduler"],
                env=stack.standalone.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)


def wait_for_state(stack, doc_id, states: set[str], timeout: float) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        doc = stack.service.get(doc_id)
        if doc.run_state.value in states:
            return doc
        time.sleep(0.5)
    raise AssertionError(
        f"{doc_id} is {stack.service.get(doc_id).run_state.value}, not {sorted(states)}, after {timeout:.0f}s"
    )


def test_a_killed_scheduler_strands_nothing_and_runs_nothing_twice(stack, replacement_scheduler):
    doc = delegate(SLEEP, E2E_DATASET, {"seconds": 15}, user="admin", db=stack.db)
    wait_for_state(stack, doc.id, {"running"}, timeout=120)
    time.sleep(2)

    scheduler = scheduler_of(stack.standalone)
    scheduler.kill()
    time.sleep(3)
    assert not scheduler.is_running() or scheduler.status() == psutil.STATUS_ZOMBIE
    assert stack.service.get(doc.id).run_state.value == "running"  # the task goes on without a scheduler
    replacement_scheduler()

    finished = wait_for_state(stack, doc.id, {"completed", "failed"}, timeout=180)
    assert finished.run_state.value == "completed" and finished.result.result == {"slept": 15}
    assert finished.attempt == 1  # claimed once
    run_id = finished.run_link.split("/runs/")[1].split("/")[0]
    ti = stack.api.task_instance(operator_dag_id(SLEEP), unquote(run_id), "run_operation")
    assert ti["state"] == "success" and ti["try_number"] == 1  # one Airflow try

    after = delegate(SLEEP, E2E_DATASET, {"seconds": 1}, user="admin", db=stack.db)
    assert wait_for_state(stack, after.id, {"completed", "failed"}, timeout=180).run_state.value == "completed"
