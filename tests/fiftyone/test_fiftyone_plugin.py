"""A FiftyOne plugin written here (its code imports ``fiftyone.operators``: progress, a declared
secret, a long loop), found through ``FIFTYONE_PLUGINS_DIR`` and run by FiftyOps' executor in the
FiftyOne interpreter: it completes with its result and progress, it is terminated on request,
and it times out per ``on_reset`` (failed)."""

from __future__ import annotations

import textwrap
import threading
import time

import pytest

from fiftyops_provider.execution import Executor
from fiftyops_provider.store import ExecutionRunState as S

pytestmark = pytest.mark.fiftyone
SLOW = "@test/slow/slow"

PLUGIN = """
import time
import fiftyone.operators as foo


class Slow(foo.Operator):
    @property
    def config(self):
        return foo.OperatorConfig(name="slow", label="Slow", allow_delegated_execution=True)

    def execute(self, ctx):
        steps = ctx.params["steps"]
        for i in range(steps):
            ctx.set_progress(progress=i / steps, label=f"step {i}")
            time.sleep(0.3)
        token_ok = ctx.secrets["SLOW_TOKEN"] == "s3cret"
        return {"token_ok": token_ok, "steps": steps, "op": str(ctx._delegated_operation_id)}


def register(p):
    p.register(Slow)
"""


@pytest.fixture
def slow_plugin(tmp_path, monkeypatch):
    root = tmp_path / "fiftyone-plugins" / "slow"
    root.mkdir(parents=True)
    (root / "fiftyone.yml").write_text(
        'name: "@test/slow"\ntype: plugin\noperators:\n  - slow\nsecrets:\n  - SLOW_TOKEN\n'
    )
    (root / "__init__.py").write_text(textwrap.dedent(PLUGIN))
    monkeypatch.setenv("FIFTYONE_PLUGINS_DIR", str(root.parent))
    monkeypatch.setenv("SLOW_TOKEN", "s3cret")


def queue(service, steps: int, **kwargs):
    context = {"request_params": {"dataset_name": None, "params": {"steps": steps}}}
    return service.queue_operation(SLOW, context=context, initial_state="queued", **kwargs)


def test_a_fiftyone_plugin_runs_reports_progress_is_terminated_and_times_out(fiftyone, slow_plugin, service):
    executor = Executor(service, heartbeat_interval=0.5, termination_grace=1.0, progress_interval=0.1)

    done = queue(service, 4)
    executor.run(done)
    finished = service.get(done.id)
    assert finished.run_state is S.COMPLETED, finished.result.error
    assert finished.result.result == {"token_ok": True, "steps": 4, "op": str(done.id)}
    assert finished.status.label.startswith("step ")  # FiftyOne's ctx.set_progress reached the store
    assert "s3cret" not in (finished.log_tail or "")

    stopped = queue(service, 1000)

    def terminate_once_running():
        deadline = time.monotonic() + 120
        while getattr(service.get(stopped.id).status, "label", None) is None:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        service.terminate(stopped.id, reason="enough", requested_by="tester")

    thread = threading.Thread(target=terminate_once_running)
    thread.start()
    executor.run(stopped)
    thread.join()
    terminated = service.get(stopped.id)
    assert terminated.run_state is S.FAILED and "enough" in terminated.result.error_message

    slow = queue(service, 1000, execution_timeout=20)
    executor.run(slow)
    timed_out = service.get(slow.id)
    assert timed_out.run_state is S.FAILED and "timed out" in timed_out.result.error_message.lower()
