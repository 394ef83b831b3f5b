"""FiftyOps on a real ``airflow standalone`` + real mongod: the behaviour users see.

Operations are queued through the SDK (``delegate``); the dispatcher DAG picks them up and runs
each in its operator's DAG. Checks: completion with a run_link the REST API resolves and a
log_path holding the operator's log lines; failure with traceback; terminate from the store stops
the task; mark-failed in Airflow fails the operation; clearing a task reruns the operation;
launching from the operator DAG's Trigger form.
"""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from fiftyops_provider import delegate
from fiftyops_provider.access.users import UserStore
from fiftyops_provider.dag_factory.naming import OPERATOR_TASK_ID, operator_dag_id
from fiftyops_provider.store import ExecutionRunState as S
from tests.airflow.conftest import E2E_ADMIN, E2E_DATASET, E2E_SAMPLES

pytestmark = pytest.mark.airflow


def queue(stack, uri: str, **params):
    return delegate(uri, dataset=E2E_DATASET, params=params, user=E2E_ADMIN, db=stack.db)


def wait_for(stack, doc_id, states, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        doc = stack.service.get(doc_id)
        if doc.run_state in states:
            return doc
        time.sleep(0.5)
    raise AssertionError(f"operation {doc_id} is {stack.service.get(doc_id).run_state}, not {states}")


def wait_for_run_state(api, dag_id: str, run_id: str, state: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while (current := api.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"]) != state:
        assert time.monotonic() < deadline, f"run {run_id} is {current}, not {state}"
        time.sleep(0.5)


def ti_of(run_link: str) -> tuple[str, str, str, int]:
    """(dag_id, run_id, task_id, try_number) from a task-instance deep link."""
    url = urlparse(run_link)
    parts = url.path.split("/")
    dag_id, run_id, task_id = (
        parts[parts.index("dags") + 1],
        unquote(parts[parts.index("runs") + 1]),
        parts[parts.index("tasks") + 1],
    )
    return dag_id, run_id, task_id, int(url.query.split("try_number=")[1])


def test_operation_completes_with_a_working_run_link_and_log_path(airflow_stack):
    doc = queue(airflow_stack, "@fiftyops/utils/count_samples")
    done = wait_for(airflow_stack, doc.id, {S.COMPLETED, S.FAILED})
    assert done.run_state is S.COMPLETED, done.result
    assert done.result.result == {"dataset": E2E_DATASET, "count": E2E_SAMPLES}
    assert done.run_link.startswith(airflow_stack.standalone.base_url + "/dags/")
    dag_id, run_id, task_id, try_number = ti_of(done.run_link)
    assert (dag_id, task_id, try_number) == (operator_dag_id(doc.operator), OPERATOR_TASK_ID, 1)
    # The store records the outcome first; the task then pushes its XComs and reports success.
    ti = airflow_stack.api.wait_for_ti(dag_id, run_id, task_id, {"success", "failed"}, timeout=60)
    assert ti["state"] == "success"
    log = Path(done.log_path).read_text()
    assert f"Dataset {E2E_DATASET} has {E2E_SAMPLES} samples" in log
    links = airflow_stack.api.extra_links(dag_id, run_id, task_id)
    assert links["FiftyOps run"].endswith(f"/fiftyops/runs/{doc.id}")
    # The result stays in the store: Airflow's metadata database does not get a copy.
    xcoms = airflow_stack.api.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries")
    assert "return_value" not in {entry["key"] for entry in xcoms["xcom_entries"]}


def test_failing_operation_fails_its_task_with_the_traceback(airflow_stack):
    doc = queue(airflow_stack, "@fiftyops/utils/fail", message="planned failure")
    failed = wait_for(airflow_stack, doc.id, {S.FAILED, S.COMPLETED})
    assert failed.run_state is S.FAILED and "planned failure" in failed.result.error_message
    assert "Traceback" in failed.result.error
    dag_id, run_id, task_id, _ = ti_of(failed.run_link)
    assert airflow_stack.api.wait_for_ti(dag_id, run_id, task_id, {"failed"}, timeout=30)["state"] == "failed"


def test_terminate_from_the_store_stops_the_task(airflow_stack):
    doc = queue(airflow_stack, "@fiftyops/utils/sleep", seconds=120)
    running = wait_for(airflow_stack, doc.id, {S.RUNNING})
    dag_id, run_id, task_id, _ = ti_of(running.run_link)
    deadline = time.monotonic() + 30  # a running operation's task shows its "FiftyOps run" button
    while not airflow_stack.api.extra_links(dag_id, run_id, task_id).get("FiftyOps run"):
        assert time.monotonic() < deadline, "no FiftyOps run link while the operation runs"
        time.sleep(0.5)
    assert airflow_stack.api.extra_links(dag_id, run_id, task_id)["FiftyOps run"].endswith(f"/fiftyops/runs/{doc.id}")
    airflow_stack.service.terminate(doc.id, reason="not needed", requested_by="e2e")
    stopped = wait_for(airflow_stack, doc.id, {S.FAILED, S.COMPLETED}, timeout=30)
    assert stopped.run_state is S.FAILED and "not needed" in stopped.result.error
    assert airflow_stack.api.wait_for_ti(dag_id, run_id, task_id, {"failed"}, timeout=30)["state"] == "failed"


def test_marking_the_task_failed_in_airflow_fails_the_operation(airflow_stack):
    doc = queue(airflow_stack, "@fiftyops/utils/sleep", seconds=120)
    running = wait_for(airflow_stack, doc.id, {S.RUNNING})
    time.sleep(2)
    dag_id, run_id, task_id, _ = ti_of(running.run_link)
    airflow_stack.api.set_ti_state(dag_id, run_id, task_id, "failed")
    stopped = wait_for(airflow_stack, doc.id, {S.FAILED, S.COMPLETED}, timeout=40)
    assert stopped.run_state is S.FAILED and "terminated from Airflow" in stopped.result.error


def test_clearing_a_finished_task_reruns_the_operation(airflow_stack):
    doc = queue(airflow_stack, "@fiftyops/utils/sleep", seconds=1)
    done = wait_for(airflow_stack, doc.id, {S.COMPLETED, S.FAILED})
    assert done.run_state is S.COMPLETED
    dag_id, run_id, task_id, _ = ti_of(done.run_link)
    # Finished in Airflow too: a clear sent while the scheduler is still marking the run
    # successful can be overwritten by it (Airflow's own race, whatever the task).
    wait_for_run_state(airflow_stack.api, dag_id, run_id, "success")
    airflow_stack.api.clear_task(dag_id, run_id, task_id)
    deadline = time.monotonic() + 90
    while not (reruns := airflow_stack.service.list_operations(rerun_of=str(doc.id))):
        assert time.monotonic() < deadline, "clearing the task did not rerun the operation"
        time.sleep(0.5)
    rerun = wait_for(airflow_stack, reruns[0].id, {S.COMPLETED, S.FAILED})
    assert rerun.run_state is S.COMPLETED and rerun.params == done.params
    assert ti_of(rerun.run_link)[:3] == (dag_id, run_id, task_id) and ti_of(rerun.run_link)[3] == 2
    assert airflow_stack.service.get(doc.id).run_state is S.COMPLETED  # the original stays as it was


def test_launching_from_the_trigger_form_queues_and_runs_an_operation(airflow_stack):
    dag_id = operator_dag_id("@fiftyops/utils/sleep")
    run = airflow_stack.api.trigger(dag_id, conf={"dataset": E2E_DATASET, "seconds": 1})
    ti = airflow_stack.api.wait_for_ti(dag_id, run["dag_run_id"], OPERATOR_TASK_ID, {"success", "failed"}, timeout=90)
    assert ti["state"] == "success"
    launched = airflow_stack.service.list_operations(
        operator="@fiftyops/utils/sleep", run_state="completed", paging={"limit": 100}
    )
    mine = [d for d in launched if d.run_link and unquote(d.run_link).find(run["dag_run_id"]) >= 0]
    assert len(mine) == 1 and mine[0].params == {"seconds": 1} and mine[0].queued_by == E2E_ADMIN


def test_tasks_report_to_an_execution_api_server_of_their_own(airflow_stack):
    """Airflow's REST API writes its audit log on the api-server's event loop; on SQLite that write
    waits for the lock while a task's state write, holding it, waits for the same loop to commit.
    In one api-server that deadlock lasted the busy timeout (it made a 200-operation burst stall
    and the scheduler exit). Tasks therefore talk to an execution API server of their own."""
    doc = queue(airflow_stack, "@fiftyops/utils/sleep", seconds=0)
    done = wait_for(airflow_stack, doc.id, {S.COMPLETED, S.FAILED})
    assert done.run_state is S.COMPLETED, done.result
    dag_id, run_id, task_id, _ = ti_of(done.run_link)
    ti = airflow_stack.api.wait_for_ti(dag_id, run_id, task_id, {"success"}, timeout=60)
    standalone = airflow_stack.standalone
    assert f"/execution/task-instances/{ti['id']}/run" in standalone.execution_api_log_file.read_text()
    ui_server_lines = [line for line in standalone.log_file.read_text().splitlines() if line.startswith("api-server")]
    assert ui_server_lines, "the standalone log has no api-server lines to check"
    assert not [line for line in ui_server_lines if "/execution/task-instances/" in line]


def task_log(stack, dag_id: str, run_id: str) -> str:
    folder = stack.standalone.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={OPERATOR_TASK_ID}"
    return "\n".join(path.read_text() for path in sorted(folder.glob("attempt=*.log")))


def finished(stack, dag_id: str, run_id: str) -> str:
    return stack.api.wait_for_ti(dag_id, run_id, OPERATOR_TASK_ID, {"success", "failed", "skipped"})["state"]


def test_a_dag_run_conf_cannot_bypass_the_queue_time_checks(airflow_stack):
    """Anyone Airflow lets trigger an operator DAG can write its conf. A ``rerun_of`` is checked as
    the Airflow user who triggered the run, exactly like the Runs page's re-run, before anything is
    written; an ``operation_id`` is run only by the DAG run the dispatcher started for it."""
    dag_id = operator_dag_id("@fiftyops/utils/sleep")
    done = wait_for(airflow_stack, queue(airflow_stack, "@fiftyops/utils/sleep", seconds=0).id, {S.COMPLETED})
    users = UserStore(airflow_stack.db)
    users.set_role(E2E_ADMIN, "GUEST")  # the FiftyOps record wins: Airflow's admin may no longer run sleep
    try:
        before = airflow_stack.db.delegated_ops.count_documents({})
        rerun = airflow_stack.api.trigger(dag_id, conf={"rerun_of": str(done.id)})["dag_run_id"]
        assert finished(airflow_stack, dag_id, rerun) == "failed"
        assert "User admin is GUEST; operator @fiftyops/utils/sleep needs" in task_log(airflow_stack, dag_id, rerun)
        assert airflow_stack.db.delegated_ops.count_documents({}) == before  # nothing queued
    finally:
        users.set_role(E2E_ADMIN, "ADMIN")

    stolen = airflow_stack.api.trigger(dag_id, conf={"operation_id": str(done.id)})["dag_run_id"]
    assert finished(airflow_stack, dag_id, stolen) == "failed"
    assert f"Operation {done.id} was not dispatched to this run" in task_log(airflow_stack, dag_id, stolen)
    assert airflow_stack.db.delegated_ops.count_documents({}) == before
    assert airflow_stack.service.get(done.id) == done  # not failed, not re-linked
