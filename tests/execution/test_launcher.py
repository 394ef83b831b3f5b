"""The local launcher and the service's queue-draining API: FIFO, admission, reaping, stopping."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

from sample_operators import FAST, SOURCE, uri

from fiftyops_provider.execution import run_launcher
from fiftyops_provider.store import ExecutionRunState as S
from fiftyops_provider.store.documents import utcnow


def _order(path: Path) -> list[str]:
    return [line.split()[1] for line in path.read_text().splitlines()]


def test_launcher_admits_scheduled_ops_and_runs_the_oldest_first(service, tmp_path):
    for tag in ("first", "second", "third"):
        service.queue_operation(
            uri("quick"), context={"request_params": {"params": {"a": 1, "dir": str(tmp_path), "tag": tag}}}
        )

    runs = run_launcher(service, max_operations=3, poll_interval=0.05, **FAST)

    assert runs == 3 and _order(tmp_path / "quick") == ["first", "second", "third"]
    assert service.count({"run_state": "completed"}) == 3


def test_launcher_respects_the_admission_quota_and_target(service, tmp_path):
    params = {"a": 1, "dir": str(tmp_path)}
    mine = [
        service.queue_operation(uri("quick"), delegation_target="here", context={"request_params": {"params": params}})
        for _ in range(2)
    ]
    other = service.queue_operation(
        uri("quick"), delegation_target="elsewhere", context={"request_params": {"params": params}}
    )

    runs = run_launcher(
        service, delegation_target="here", admission_quota=1, max_operations=2, poll_interval=0.05, **FAST
    )

    assert runs == 2 and all(service.get(d.id).run_state is S.COMPLETED for d in mine)
    assert service.get(other.id).run_state is S.SCHEDULED


def test_launcher_reaps_stale_runs(service, operations, queue):
    stale = queue("sleeper")
    service.set_running(stale.id, claim_token="gone#1")
    operations.update_one({"_id": stale.id}, {"$set": {"heartbeat_at": utcnow() - timedelta(minutes=1)}})
    queue("quick", {"a": 1})

    assert run_launcher(service, max_operations=1, poll_interval=0.05, **FAST) == 1
    reaped = service.get(stale.id)
    assert reaped.run_state is S.FAILED and "No heartbeat from its executor" in reaped.result.error_message


def test_launcher_stops_on_its_stop_event(service, background):
    stop = threading.Event()
    future = background(run_launcher, service, stop_event=stop, poll_interval=0.05, **FAST)
    stop.set()
    assert future.result(timeout=10) == 0


def test_sigterm_terminates_the_current_operation_and_stops_the_launcher(service, queue, db, processes, wait_for):
    doc = queue("sleeper")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent), "FIFTYOPS_DATABASE_NAME": db.name}
    launcher = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fiftyops_provider.execution",
            "--source",
            SOURCE,
            "--heartbeat-interval",
            "0.2",
            "--termination-grace",
            "1",
            "--poll-interval",
            "0.1",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    processes.append(launcher)
    wait_for(lambda: service.get(doc.id).run_state is S.RUNNING, timeout=20)

    launcher.send_signal(signal.SIGTERM)

    assert launcher.wait(timeout=15) == 0
    stored = service.get(doc.id)
    assert stored.run_state is S.FAILED and stored.result.result["terminated"] is True
    assert (
        stored.result.error_message.startswith("Terminated by launcher ") and "SIGTERM" in stored.result.error_message
    )


def test_execute_queued_operations_is_fifo_and_honors_limit(service, queue, tmp_path):
    docs = [queue("quick", {"a": i, "dir": str(tmp_path), "tag": str(i)}) for i in range(3)]

    results = service.execute_queued_operations(limit=2, source=SOURCE, heartbeat_interval=0.2)

    assert [r.result for r in results] == [{"sum": 2}, {"sum": 3}]
    assert _order(tmp_path / "quick") == ["0", "1"]
    assert service.get(docs[2].id).run_state is S.QUEUED


def test_launcher_serves_only_its_delegation_targets(service, db, tmp_path, monkeypatch):
    """FIFTYOPS_DELEGATION_TARGETS routes the local launcher like [fiftyops] delegation_targets
    routes Airflow: another target's operation stays queued, byte for byte untouched."""
    monkeypatch.setenv("FIFTYOPS_DELEGATION_TARGETS", "here")
    context = {"request_params": {"params": {"a": 1, "dir": str(tmp_path)}}}
    other = service.queue_operation(
        uri("quick"), delegation_target="elsewhere", context=context, initial_state="queued"
    )
    before = db.delegated_ops.find_one({"_id": other.id})
    mine = service.queue_operation(uri("quick"), delegation_target="here", context=context, initial_state="queued")

    assert run_launcher(service, max_operations=1, poll_interval=0.05, **FAST) == 1
    assert service.get(mine.id).run_state is S.COMPLETED
    assert run_launcher(service, max_operations=1, poll_interval=0.05, stop_event=_stop_after(1.0), **FAST) == 0
    assert db.delegated_ops.find_one({"_id": other.id}) == before


def _stop_after(seconds: float) -> threading.Event:
    stop = threading.Event()
    threading.Timer(seconds, stop.set).start()
    return stop
