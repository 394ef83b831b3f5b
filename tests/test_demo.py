"""The demo content runs to the end with the local launcher (the Airflow variant is in tests/airflow)."""

from __future__ import annotations

import io
import threading
import time

from fiftyops_provider.datasets.catalog import load_dataset
from fiftyops_provider.execution import run_launcher
from fiftyops_provider.stacks.demo import DEMO_DATASET, install_example_plugins, render, seed_demo, watch
from fiftyops_provider.store import DelegatedOperationService
from fiftyops_provider.store import ExecutionRunState as S


def test_demo_operations_finish_with_the_expected_states(db, tmp_path):
    assert install_example_plugins(db, acting_user="demo-admin") == [
        "@fiftyops/utils",
        "@fiftyops/io",
        "@fiftyops/pipelines",
        "@fiftyops/webhook",
    ]
    docs = seed_demo(db, "demo-admin", tmp_path / "exports")
    assert load_dataset(db, None, DEMO_DATASET).count() == 500
    service = DelegatedOperationService(db)
    stop = threading.Event()
    launcher = threading.Thread(
        target=run_launcher,
        args=(service,),
        kwargs={"stop_event": stop, "heartbeat_interval": 0.5, "poll_interval": 0.1},
    )
    launcher.start()
    out = io.StringIO()
    try:
        final = watch(service, [d.id for d in docs], timeout=120, interval=0.2, out=out)
    finally:
        stop.set()
        launcher.join(60)
    states = {d.operator.rsplit("/", 1)[1]: d.run_state for d in final}
    assert states == {
        "count_samples": S.COMPLETED,
        "sleep": S.COMPLETED,
        "compute_field": S.COMPLETED,
        "fail": S.FAILED,
        "measure_and_export": S.COMPLETED,
    }
    assert (tmp_path / "exports" / "demo_export.json").exists()
    assert "completed" in out.getvalue() and "Fail on purpose" in out.getvalue()


def test_render_shows_progress_bars_for_running_operations(service):
    doc = service.queue_operation("@o/p/op", label="Long job", initial_state="queued")
    service.set_running(doc.id)
    service.set_progress(doc.id, 0.5, "half way")
    line = render([service.get(doc.id)])[0]
    assert "Long job" in line and "[##########----------]" in line and "half way" in line


def test_off_a_terminal_each_change_is_printed_once(service):
    """In CI or a log file, an operation's line appears when it changes, not with every redraw."""
    steady = service.queue_operation("@o/p/op", label="Steady", initial_state="queued")
    busy = service.queue_operation("@o/p/op", label="Busy", initial_state="queued")
    out = io.StringIO()
    watcher = threading.Thread(
        target=watch, args=(service, [steady.id, busy.id]), kwargs={"timeout": 60, "interval": 0.02, "out": out}
    )
    watcher.start()
    try:
        for change in (
            lambda: service.set_running(busy.id),
            lambda: service.set_progress(busy.id, 0.25, "a quarter"),
            lambda: service.set_progress(busy.id, 0.5, "half way"),
            lambda: service.set_completed(busy.id),
            lambda: service.set_running(steady.id),
            lambda: service.set_completed(steady.id),
        ):
            time.sleep(0.2)  # several reads between changes
            change()
    finally:
        watcher.join(60)
    lines = out.getvalue().splitlines()
    assert len(lines) == len(set(lines)), out.getvalue()
    assert [line.split()[1] for line in lines if line.startswith("Steady")] == ["queued", "running", "completed"]
    assert len([line for line in lines if line.startswith("Busy")]) == 5
