"""FiftyOps on the distributed stack (tests/cluster/conftest.py): Celery workers as separate hosts,
PostgreSQL, Redis, a 3-member MongoDB replica set, two triggerers.

The tests share one stack and run in file order; the ones that kill or step down a part of it come
last and put it back. Every probe run records itself (``Cluster.runs_of``), so "ran once" is
counted by the operator, not inferred from states.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
import requests

from fiftyops_provider.dag_factory.naming import OPERATOR_TASK_ID, operator_dag_id
from fiftyops_provider.plugins.registry import PluginRegistry
from fiftyops_provider.stacks.cluster import ADMIN, HEARTBEAT_INTERVAL, REAP_INTERVAL, WorkerSpec
from tests.cluster.conftest import PROBE, PROBE_GPU, PROBE_PLUGIN

# The first test also waits for the session's stack to start (2-3 min on a busy 2-core machine).
pytestmark = [pytest.mark.cluster, pytest.mark.timeout(900)]

COMPLETED = ("completed",)
PROBE_PLUGIN_NAME = "@fiftyops-tests/probe"


def ti_of(run_link: str) -> tuple[str, str, str, int]:
    """(dag_id, run_id, task_id, try_number) from a task-instance deep link."""
    url = urlparse(run_link)
    parts = url.path.split("/")
    return (
        parts[parts.index("dags") + 1],
        unquote(parts[parts.index("runs") + 1]),
        parts[parts.index("tasks") + 1],
        int(url.query.split("try_number=")[1]),
    )


def worker_names(cluster) -> dict[str, str]:
    """worker address -> worker name."""
    return {cluster.stack.worker_address(name): name for name, c in cluster.stack.components.items() if c.log_server}


def finish_all(cluster, docs, timeout: float = 180.0):
    return [cluster.wait(doc.id, COMPLETED, timeout) for doc in docs]


def test_operations_spread_over_both_workers_and_each_run_link_shows_the_workers_log(cluster):
    docs = [cluster.queue(seconds=3) for _ in range(4)]
    done = finish_all(cluster, docs)

    workers = worker_names(cluster)
    ran_on = {doc.result.result["worker"] for doc in done}
    assert {workers[address] for address in ran_on} == {"worker1", "worker2"}
    for doc in done:
        assert len(cluster.runs_of(doc.id)) == 1
        address = doc.result.result["worker"]
        # log_path stays the Airflow task log, in the folder of the worker that ran it.
        assert doc.log_path.startswith(str(cluster.stack.worker_home(workers[address]) / "logs")), doc.log_path
        dag_id, run_id, task_id, try_number = ti_of(doc.run_link)
        assert (dag_id, task_id, try_number) == (operator_dag_id(PROBE), OPERATOR_TASK_ID, 1)
        assert doc.run_link.startswith(cluster.stack.base_url)
        assert requests.get(doc.run_link, timeout=30).status_code == 200
        ti = cluster.api.task_instance(dag_id, run_id, task_id)
        assert (ti["state"], ti["hostname"]) == ("success", address)
        # The api-server cannot read the worker's log folder: Airflow fetched this from the
        # worker's log server (a failed fetch also answers 200, so look for the operator's line).
        log = cluster.api.task_log(dag_id, run_id, task_id, try_number)
        assert f"probe {doc.id} on {address}" in log, log[-2000:]


def fiftyops_logs(cluster, doc_id, download: bool = False) -> requests.Response:
    token = requests.post(
        f"{cluster.stack.base_url}/auth/token",
        json={"username": ADMIN, "password": cluster.stack.password},
        timeout=30,
    ).json()["access_token"]
    path = f"/fiftyops/api/runs/{doc_id}/logs" + ("/download" if download else "")
    response = requests.get(cluster.stack.base_url + path, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    response.raise_for_status()
    return response


def on_control_host(cluster, command: list[str]) -> subprocess.CompletedProcess:
    """``command`` where the api-server runs (no view of the workers' files), as the admin."""
    return subprocess.run(
        cluster.stack.on_control_host(command),
        env={**cluster.stack.control_env, "FIFTYOPS_USER": ADMIN},
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_fiftyops_logs_of_a_run_on_a_worker_the_api_server_cannot_read(cluster):
    if not cluster.stack.isolates_hosts:
        pytest.skip("needs root and unshare to hide the workers' files from the control host")
    doc = cluster.queue(seconds=15)
    running = cluster.wait(doc.id, ("running",))
    deadline = time.monotonic() + 60
    while "working" not in (running.log_tail or ""):
        assert time.monotonic() < deadline, "no live log tail"
        time.sleep(0.5)
        running = cluster.service.get(doc.id)
    assert on_control_host(cluster, ["test", "-e", running.log_path]).returncode != 0, "the files must be hidden"

    live = fiftyops_logs(cluster, doc.id).json()
    assert live["running"] and not live["complete"]
    assert any("working" in entry["message"] for entry in live["entries"])

    done = cluster.wait(doc.id, COMPLETED, 120)
    marker = f"probe {doc.id} on {done.result.result['worker']}"
    deadline = time.monotonic() + 10  # (one run of eight saw it incomplete at once: kept as a bound, with details)
    while not (final := fiftyops_logs(cluster, doc.id).json())["complete"] and time.monotonic() < deadline:
        time.sleep(1)
    assert final["complete"] and not final["running"], (
        {k: v for k, v in final.items() if k != "entries"},
        cluster.service.get(doc.id).log_upload_error,
        cluster.service.stored_log(doc.id),
    )
    assert any(marker in entry["message"] for entry in final["entries"])
    assert any("[fiftyops] completed" in entry["message"] for entry in final["entries"])
    assert marker in fiftyops_logs(cluster, doc.id, download=True).text
    cli = on_control_host(cluster, ["fiftyops", "delegated", "logs", str(doc.id)])
    assert cli.returncode == 0, cli.stderr
    assert marker in cli.stdout and "[fiftyops] completed" in cli.stdout


def probe_version(tmp_path: Path, version: str) -> Path:
    plugin = tmp_path / f"probe-{version}"
    shutil.copytree(PROBE_PLUGIN, plugin, ignore=shutil.ignore_patterns("__pycache__"))
    for name, old, new in (
        ("__init__.py", 'VERSION = "1"', f'VERSION = "{version}"'),
        ("fiftyone.yml", 'version: "1"', f'version: "{version}"'),
    ):
        text = (plugin / name).read_text()
        assert old in text
        (plugin / name).write_text(text.replace(old, new))
    return plugin


def test_plugin_upgraded_while_operations_are_queued_runs_on_both_workers(cluster, tmp_path, monkeypatch):
    """A run loads the version installed when it starts: runs started before the upgrade use the
    old one, runs started after it the new one, fetched from GridFS into each worker's cache."""
    monkeypatch.setenv("FIFTYOPS_HOME", str(tmp_path / "admin"))
    queued = [cluster.queue(seconds=1) for _ in range(8)]  # twice the quota: some wait
    time.sleep(1.0)
    before_upgrade = time.time()
    PluginRegistry(cluster.db).install(probe_version(tmp_path, "2"), overwrite=True, acting_user=ADMIN)
    upgraded = time.time()
    finish_all(cluster, queued)
    for doc in queued:
        [run] = cluster.runs_of(doc.id)
        if run["started"] < before_upgrade:
            assert run["version"] == "1", run
        elif run["started"] > upgraded + 1.0:  # the executor loads the operator just before its child starts
            assert run["version"] == "2", run

    after = finish_all(cluster, [cluster.queue(seconds=3) for _ in range(4)])
    assert {doc.result.result["version"] for doc in after} == {"2"}
    workers = worker_names(cluster)
    assert {workers[doc.result.result["worker"]] for doc in after} == {"worker1", "worker2"}
    digest = PluginRegistry(cluster.db).get_plugin_info(PROBE_PLUGIN_NAME)["content_hash"]
    for name in ("worker1", "worker2"):
        assert (cluster.stack.worker_home(name) / "fiftyops" / "plugins" / digest).is_dir(), name


def wait_for_task_queue(cluster, uri: str, queue: str, timeout: float = 90.0) -> dict:
    """Until the dag-processor has re-parsed the operator's DAG with its task on ``queue``."""
    deadline = time.monotonic() + timeout
    while True:
        task = cluster.api.request("GET", f"/dags/{operator_dag_id(uri)}/tasks/{OPERATOR_TASK_ID}")
        if task["queue"] == queue:
            return task
        assert time.monotonic() < deadline, f"the task is still on queue {task['queue']!r}"
        time.sleep(1)


def test_operator_placement_routes_operations_to_a_gpu_only_worker(cluster):
    stack = cluster.stack
    stack.add_worker(WorkerSpec("gpu", ("gpu",)))
    try:
        gpu = stack.worker_address("gpu")
        wait_for_task_queue(cluster, PROBE_GPU, "gpu")
        on_gpu = [cluster.queue(PROBE_GPU) for _ in range(2)]
        elsewhere = [cluster.queue() for _ in range(2)]
        assert {d.result.result["worker"] for d in finish_all(cluster, on_gpu)} == {gpu}
        assert gpu not in {d.result.result["worker"] for d in finish_all(cluster, elsewhere)}

        # An admin moves the default-queue operator to the gpu workers, with a priority.
        PluginRegistry(cluster.db).set_operator_placement(
            PROBE_PLUGIN_NAME, "probe", {"queue": "gpu", "priority_weight": 7}, acting_user=ADMIN
        )
        task = wait_for_task_queue(cluster, PROBE, "gpu")
        assert task["priority_weight"] == 7
        [moved] = finish_all(cluster, [cluster.queue()])
        assert moved.result.result["worker"] == gpu
    finally:
        PluginRegistry(cluster.db).set_operator_placement(PROBE_PLUGIN_NAME, "probe", {}, acting_user=ADMIN)
        wait_for_task_queue(cluster, PROBE, "default")
        stack.remove("gpu")


@pytest.mark.parametrize("triggerer", ["triggerer1", "triggerer2"])
def test_one_triggerer_killed_the_other_keeps_dispatching(cluster, triggerer):
    """Each triggerer in turn: whichever held the dispatcher's trigger, the other takes it over
    and no operation is started twice."""
    cluster.stack.kill(triggerer)
    try:
        docs = [cluster.queue(seconds=1) for _ in range(3)]
        done = finish_all(cluster, docs, timeout=120)
        for doc in done:
            assert doc.attempt == 1 and len(cluster.runs_of(doc.id)) == 1
            dag_id, run_id, task_id, _ = ti_of(doc.run_link)
            assert cluster.api.task_instance(dag_id, run_id, task_id)["try_number"] == 1
    finally:
        cluster.stack.restart(triggerer)


def test_mongo_primary_stepped_down_mid_run(cluster):
    running = [cluster.queue(seconds=5) for _ in range(3)]
    for doc in running:
        cluster.wait(doc.id, ("running",), 120)
    old_primary = cluster.stack.mongo.step_down(30)
    assert cluster.stack.mongo.primary_index() != old_primary
    later = [cluster.queue(seconds=1) for _ in range(2)]  # written to the new primary
    for doc in finish_all(cluster, running + later):
        assert doc.attempt == 1 and len(cluster.runs_of(doc.id)) == 1, doc.id


def test_celery_worker_sigkilled_mid_operation(cluster):
    """The operation leaves `running` by its on_reset policy (failed) within 3 x heartbeat +
    the reap interval, and nothing runs twice after the worker comes back."""
    doc = cluster.queue(seconds=120)
    cluster.wait(doc.id, ("running",), 120)
    deadline = time.monotonic() + 30
    while not cluster.runs_of(doc.id):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    worker = worker_names(cluster)[cluster.runs_of(doc.id)[0]["worker"]]
    cluster.stack.kill(worker)
    killed = time.monotonic()
    failed = cluster.wait(doc.id, ("failed", "queued", "completed"), 120)
    took = time.monotonic() - killed
    print(f"\n{worker} SIGKILLed: the operation left running after {took:.1f}s ({failed.run_state.value})")
    assert failed.run_state.value == "failed"  # the probe's on_reset is "failed"
    assert took < 3 * HEARTBEAT_INTERVAL + REAP_INTERVAL + 10

    cluster.stack.restart(worker)
    deadline = time.monotonic() + 120
    while worker not in cluster.stack.answering_workers():
        assert time.monotonic() < deadline, f"{worker} did not come back"
        time.sleep(1)
    later = finish_all(cluster, [cluster.queue(seconds=2) for _ in range(4)])
    assert {worker_names(cluster)[d.result.result["worker"]] for d in later} == {"worker1", "worker2"}
    final = cluster.service.get(doc.id)
    assert final.run_state.value == "failed" and final.attempt == 1
    assert len(cluster.runs_of(doc.id)) == 1, "the killed run was executed again"
