"""A FiftyOne plugin written here (its code imports ``fiftyone.operators``: progress, a declared
secret, a kill checkpoint) installed in the FiftyOps registry with ``fom.upload_plugin`` (validated
in the FiftyOne interpreter, stored in GridFS) and run by FiftyOps' executor in the FiftyOne
interpreter from the registry's copy: it completes with its result and progress, it stops at its
checkpoint when terminated, and it times out per the ``on_reset`` an admin set. Without the
FiftyOne runtime, or broken, it is refused with nothing stored; disabled or below the operator's
role/dataset permission, it is not runnable."""

from __future__ import annotations

import json
import threading
import time

import pytest

import fiftyops_provider.management as fom
from fiftyops_provider import delegate
from fiftyops_provider.cli.main import main as cli
from fiftyops_provider.config import load_settings
from fiftyops_provider.dag_factory.factory import build_operator_dag
from fiftyops_provider.dag_factory.naming import OPERATOR_TASK_ID
from fiftyops_provider.datasets.catalog import create_dataset
from fiftyops_provider.execution import Executor
from fiftyops_provider.execution.executor import OutcomeState
from fiftyops_provider.execution.sources import RegistrySource
from fiftyops_provider.plugins.errors import InvalidPlugin, OperatorDisabled, PermissionDenied
from fiftyops_provider.plugins.registry import PluginRegistry
from fiftyops_provider.plugins.storage import BUCKET
from fiftyops_provider.store import ExecutionRunState as S
from tests.fiftyone.conftest import write_fiftyone_plugin as write_plugin
from tests.plugins.conftest import REPO_PLUGINS

pytestmark = pytest.mark.fiftyone
SLOW = "@test/slow/slow"


@pytest.fixture
def admin(monkeypatch):
    monkeypatch.setenv("FIFTYOPS_USER", "root")


@pytest.fixture
def slow_plugin(tmp_path, monkeypatch, fiftyone, admin):
    """Installed through the registry; FIFTYONE_PLUGINS_DIR holds another version of the same
    plugin, which a run must not use."""
    decoy = write_plugin(tmp_path / "fiftyone-plugins" / "slow", version="plugins-dir")
    monkeypatch.setenv("FIFTYONE_PLUGINS_DIR", str(decoy.parent))
    monkeypatch.setenv("SLOW_TOKEN", "s3cret")
    return fom.upload_plugin(write_plugin(tmp_path / "upload" / "slow"))


def queued(service, **params):
    """Queued through ``delegate()`` (checks, inputs) and admitted, as the dispatcher would."""
    doc = delegate(SLOW, params=params)
    service.admit_scheduled_operations()
    return doc


def nothing_stored(db) -> bool:
    """No registry document, no archive in GridFS, nothing left in the plugin cache."""
    cache = load_settings().plugin_cache_dir
    return (
        db.fiftyops_plugins.count_documents({}) == 0
        and db[f"{BUCKET}.files"].count_documents({}) == 0
        and not any(cache.glob("*") if cache.exists() else [])
    )


def test_a_fiftyone_plugin_installs_runs_reports_progress_is_terminated_and_times_out(
    slow_plugin, service, db, tmp_path
):
    assert slow_plugin["runtime"] == "fiftyone" and db[f"{BUCKET}.files"].count_documents({}) == 1
    schema = slow_plugin["operators"]["slow"]["inputs_schema"]  # FiftyOne's inputs, as the Trigger form takes them
    assert schema["properties"]["steps"] == {"type": "integer", "title": "Steps", "minimum": 1}
    assert schema["required"] == ["steps"]
    executor = Executor(service, heartbeat_interval=0.5, termination_grace=5.0, progress_interval=0.1)

    done = queued(service, steps=4)
    executor.run(done)
    finished = service.get(done.id)
    assert finished.run_state is S.COMPLETED, finished.result.error
    assert finished.result.result == {"version": "registry", "token_ok": True, "steps": 4, "op": str(done.id)}
    assert finished.status.label.startswith("step ")  # FiftyOne's ctx.set_progress reached the store
    assert "s3cret" not in (finished.log_tail or "")

    partial = tmp_path / "partial.txt"
    stopped = queued(service, steps=1000, partial=str(partial))

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
    assert terminated.result.result["forced"] is False  # it stopped at its checkpoint, not killed
    assert partial.read_text().startswith("saved at step ")

    fom.set_plugin_operator_policy("@test/slow", "slow", execution_timeout=2, on_reset="rerun", max_attempts=2)
    task = build_operator_dag(PluginRegistry(db).list_operators()[0]).get_task(OPERATOR_TASK_ID)
    assert task.retries == 1 and task.execution_timeout.total_seconds() == 2 + 10 + 60  # the DAG follows it
    slow = queued(service, steps=1000)
    assert executor.run(slow).state is OutcomeState.REQUEUED  # attempt 1 of 2 timed out: on_reset rerun
    assert executor.run(service.get(slow.id)).state is OutcomeState.FAILED
    timed_out = service.get(slow.id)
    assert "timed out" in timed_out.result.error_message.lower()
    assert "attempt 2 of 2; on_reset=rerun" in timed_out.result.error_message


def test_a_fiftyone_operator_is_governed_like_a_fiftyops_one(slow_plugin, db, operations):
    fom.set_plugin_operator_enabled("@test/slow", "slow", enabled=False)
    with pytest.raises(OperatorDisabled):
        delegate(SLOW, params={"steps": 1})
    assert SLOW not in RegistrySource(db).runnable_operators()  # never picked up from the queue

    fom.set_plugin_operator_enabled("@test/slow", "slow", True, fom.MEMBER, fom.EDIT)
    fom.create_user("guest", fom.GUEST)
    fom.create_user("alice", fom.MEMBER)
    create_dataset(db, "shared")
    with pytest.raises(PermissionDenied, match="needs MEMBER"):
        delegate(SLOW, dataset="shared", params={"steps": 1}, user="guest")
    with pytest.raises(PermissionDenied, match="needs EDIT"):
        delegate(SLOW, dataset="shared", params={"steps": 1}, user="alice")
    fom.grant_dataset_permission("alice", "shared", fom.EDIT)
    assert delegate(SLOW, dataset="shared", params={"steps": 1}, user="alice").operator == SLOW
    assert operations.count_documents({}) == 1  # the refusals queued nothing

    fom.upload_plugin(REPO_PLUGINS / "utils")  # a FiftyOps plugin declares its policy in its code
    with pytest.raises(InvalidPlugin, match="declares its execution policy in its OperatorConfig"):
        fom.set_plugin_operator_policy("@fiftyops/utils", "sleep", on_reset="rerun")


def test_installing_needs_the_fiftyone_runtime_and_a_plugin_that_imports(
    fiftyone_python, db, tmp_path, monkeypatch, capsys, admin
):
    plugin = write_plugin(tmp_path / "slow")
    monkeypatch.delenv("FIFTYOPS_FIFTYONE_PYTHON", raising=False)
    assert cli(["plugins", "install", str(plugin)]) == 1
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "@test/slow is a FiftyOne plugin" in error
    assert "fiftyone_python" in error and "FIFTYOPS_FIFTYONE_PYTHON" in error
    assert nothing_stored(db)

    monkeypatch.setenv("FIFTYOPS_FIFTYONE_PYTHON", fiftyone_python)
    broken = {
        "import-error": ("import fiftyone.operators as foo\nimport no_such_module\n", "No module named"),
        "syntax-error": ("import fiftyone.operators as foo\ndef register(p:\n", "SyntaxError"),
        "undeclared": ("import fiftyone.operators as foo\ndef register(p):\n    pass\n", "never registers"),
    }
    for name, (code, reason) in broken.items():
        with pytest.raises(InvalidPlugin, match="@test/slow") as refused:
            fom.upload_plugin(write_plugin(tmp_path / name, code=code))
        assert reason in str(refused.value)
        assert nothing_stored(db)
    assert json.loads(_cli_json(capsys, "plugins", "list")) == []


def _cli_json(capsys, *argv: str) -> str:
    assert cli(["--json", *argv]) == 0
    return capsys.readouterr().out
