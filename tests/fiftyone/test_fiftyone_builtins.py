"""FiftyOne's own operators (``@voxel51/operators/*``) through FiftyOps' entry points: queued with
``delegate()`` on a FiftyOne-made dataset under the same checks as an installed operator, run by
FiftyOps' executor in the FiftyOne interpreter, under the execution policy an admin set for the
builtin (the executor's timeout and on_reset, the DAG's timeout and retries). Admins enable,
disable and set permissions on a builtin like on an installed operator; a pipeline cannot take
one as a stage (FiftyOne operators run only on their own); with no FiftyOne interpreter
configured, queueing or governing one is refused in one line saying how to set it, and nothing
is stored."""

from __future__ import annotations

import json

import pytest

import fiftyops_provider.management as fom
from fiftyops_provider import delegate
from fiftyops_provider.cli.main import main as cli
from fiftyops_provider.dag_factory.factory import build_operator_dag
from fiftyops_provider.dag_factory.naming import OPERATOR_TASK_ID
from fiftyops_provider.datasets.catalog import load_dataset
from fiftyops_provider.execution import Executor
from fiftyops_provider.execution.executor import OutcomeState
from fiftyops_provider.execution.sources import RegistrySource
from fiftyops_provider.plugins.errors import InvalidPlugin, OperatorDisabled, PermissionDenied
from fiftyops_provider.plugins.fiftyone_builtins import FIFTYONE_OPERATORS_COLLECTION
from fiftyops_provider.plugins.registry import PluginRegistry
from fiftyops_provider.store import ExecutionRunState as S
from tests.plugins.conftest import write_plugin
from tests.plugins.test_delegate import PIPE_PLUGIN

pytestmark = pytest.mark.fiftyone
BUILTINS = "@voxel51/operators"
CLEAR = f"{BUILTINS}/clear_sample_field"
CLONE = f"{BUILTINS}/clone_sample_field"

MAKE_DATASET = """
import json
import fiftyone as fo
ds = fo.Dataset("fo-made", persistent=True)
ds.add_samples([fo.Sample(filepath=f"/tmp/{i}.jpg", score=i) for i in range(3)])
print(json.dumps(ds.name))
"""


@pytest.fixture
def admin(monkeypatch):
    monkeypatch.setenv("FIFTYOPS_USER", "root")


def test_a_builtin_queued_with_delegate_runs_under_the_admins_policy(fiftyone, service, db, operations, admin):
    fiftyone(MAKE_DATASET)
    fom.create_user("alice", fom.MEMBER)
    fom.create_user("bob", fom.MEMBER)
    fom.grant_dataset_permission("alice", "fo-made", fom.EDIT)
    clear = {"field_names": ["score"]}  # no schema FiftyOps can read: FiftyOne validates it when it runs
    with pytest.raises(PermissionDenied, match="needs EDIT"):  # the organization's default, as for a new plugin
        delegate(CLEAR, dataset="fo-made", params=clear, user="bob")
    assert operations.count_documents({}) == 0

    doc = delegate(CLEAR, dataset="fo-made", params=clear, user="alice")
    service.admit_scheduled_operations()
    executor = Executor(service, heartbeat_interval=0.5, termination_grace=1.0)
    executor.run(doc)
    done = service.get(doc.id)
    assert done.run_state is S.COMPLETED, done.result.error
    assert done.queued_by == "alice" and done.params == clear
    assert [sample.get("score") for sample in load_dataset(db, None, "fo-made")] == [None, None, None]

    fom.set_plugin_operator_policy(
        BUILTINS, "clear_sample_field", execution_timeout=1, on_reset="rerun", max_attempts=2
    )
    info = next(info for info in PluginRegistry(db).fiftyone_operators() if info.uri == CLEAR)
    task = build_operator_dag(info).get_task(OPERATOR_TASK_ID)
    assert task.retries == 1 and task.execution_timeout.total_seconds() == 1 + 10 + 60  # the DAG follows it
    # FiftyOne alone takes longer than 1 s to import: each attempt times out
    slow = delegate(CLEAR, dataset="fo-made", params=clear, user="alice")
    service.admit_scheduled_operations()
    assert executor.run(slow).state is OutcomeState.REQUEUED  # attempt 1 of 2: on_reset rerun
    assert executor.run(service.get(slow.id)).state is OutcomeState.FAILED
    assert "attempt 2 of 2; on_reset=rerun" in service.get(slow.id).result.error_message


def test_builtins_are_governed_like_installed_operators_and_need_the_runtime(
    fiftyone, db, operations, monkeypatch, capsys, admin, tmp_path
):
    fom.create_user("guest", fom.GUEST)
    assert cli(["plugins", "disable", BUILTINS, "--operator", "clear_sample_field"]) == 0
    capsys.readouterr()
    with pytest.raises(OperatorDisabled, match="is disabled"):
        delegate(CLEAR, params={"field_names": ["score"]})
    runnable = RegistrySource(db).runnable_operators()
    assert CLEAR not in runnable and CLONE in runnable  # a disabled builtin is never picked up
    enabled = {info.uri for info in fom.list_operators(enabled_only=True)}
    assert CLEAR not in enabled and CLONE in enabled  # nor given a DAG
    with pytest.raises(PermissionDenied, match="needs MEMBER"):
        delegate(CLONE, params={"field_name": "score", "new_field_name": "copy"}, user="guest")
    assert cli(["plugins", "perms", BUILTINS, "clone_sample_field", "--role", "GUEST"]) == 0
    capsys.readouterr()
    shown = json.loads(_cli_json(capsys, "plugins", "info", BUILTINS))
    assert shown["operators"]["clone_sample_field"]["minimum_role"] == "GUEST"
    assert shown["operators"]["clear_sample_field"]["enabled"] is False
    fom.upload_plugin(
        write_plugin(tmp_path / "pipe", name="@test/pipe", operators=("pipe", "dyn"), entry_code=PIPE_PLUGIN)
    )
    with pytest.raises(InvalidPlugin, match="is a FiftyOne operator, which runs only on its own"):
        delegate("@test/pipe/pipe", params={"stages": [[CLONE, {"field_name": "score", "new_field_name": "copy"}]]})
    assert operations.count_documents({}) == 0

    monkeypatch.delenv("FIFTYOPS_FIFTYONE_PYTHON")
    stored = list(db[FIFTYONE_OPERATORS_COLLECTION].find())
    for argv in (
        ["queue", CLONE, "-p", "field_name=score", "-p", "new_field_name=copy"],
        ["plugins", "policy", BUILTINS, "clone_sample_field", "--execution-timeout", "5"],
    ):
        assert cli(argv) == 1
        error = capsys.readouterr().err.strip()
        assert error.count("\n") == 0 and "FiftyOne's own operators" in error
        assert "fiftyone_python" in error and "FIFTYOPS_FIFTYONE_PYTHON" in error
    assert operations.count_documents({}) == 0 and list(db[FIFTYONE_OPERATORS_COLLECTION].find()) == stored


def _cli_json(capsys, *argv: str) -> str:
    assert cli(["--json", *argv]) == 0
    return capsys.readouterr().out
