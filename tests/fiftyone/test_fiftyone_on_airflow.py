"""End to end: the real fiftyone queues two builtin operations with delegation on the FiftyOps
database; FiftyOps (``[fiftyops] fiftyone_python`` set, nothing else) runs them on a real airflow
standalone; FiftyOne's own service (and its ``fiftyone delegated list/info`` CLI) reads them
completed, with the Airflow run_link, and their effects are in the real dataset. A FiftyOne plugin
uploaded to the registry gets its own DAG and runs there, queued with ``delegate()`` on the
FiftyOne-made dataset by a user with a grant on it; a builtin queued from its DAG's Trigger form
runs there too. An operation for another delegation target
and one for an unknown operator stay queued, untouched; FiftyOne still loads every dataset."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from urllib.parse import unquote

import pytest
from bson import ObjectId

import fiftyops_provider.management as fom
from fiftyops_provider import delegate
from fiftyops_provider.dag_factory.naming import DISPATCHER_DAG_ID, OPERATOR_TASK_ID, operator_dag_id
from fiftyops_provider.datasets.catalog import load_dataset
from fiftyops_provider.execution.fiftyone_runtime import FiftyOneRuntime
from fiftyops_provider.plugins.errors import PermissionDenied
from fiftyops_provider.store import ExecutionRunState as S
from tests.airflow.conftest import E2E_ADMIN, E2E_DATABASE, E2E_DATASET, running_stack
from tests.fiftyone.conftest import write_fiftyone_plugin
from tests.fiftyone.test_fiftyone_operations import QUEUE, READ

pytestmark = [pytest.mark.fiftyone, pytest.mark.airflow]
CLEAR = "@voxel51/operators/clear_sample_field"
CLONE = "@voxel51/operators/clone_sample_field"
SLOW = "@test/slow/slow"

QUEUE_CLONE = """
import json
import fiftyone as fo
from fiftyone.operators.delegated import DelegatedOperationService
from fiftyone.operators.executor import ExecutionContext
ds = fo.load_dataset("fo-made")
params = {"field_name": "keep", "new_field_name": "kept"}
rp = {"dataset_name": ds.name, "dataset_id": str(ds._doc.id), "params": params}
op = DelegatedOperationService().queue_operation(%r, context=ExecutionContext(request_params=rp))
print(json.dumps(str(op.id)))
"""


@pytest.mark.timeout(1200)
def test_fiftyone_operations_and_plugins_run_on_airflow(
    fiftyone, fiftyone_python, mongod, mongo_client, tmp_path, monkeypatch
):
    monkeypatch.delenv("FIFTYOPS_FIFTYONE_PYTHON")  # only the Airflow setting names the interpreter
    # List FiftyOne's operators once before Airflow parses the DAGs (as a deployment's first
    # parse does, more slowly): the listing is kept in FIFTYOPS_HOME for every process after.
    FiftyOneRuntime(fiftyone_python).operators(tmp_path / "fiftyops")

    def upload_plugin(db):
        with pytest.MonkeyPatch.context() as patch:  # installing needs the FiftyOne interpreter too
            patch.setenv("FIFTYOPS_FIFTYONE_PYTHON", fiftyone_python)
            fom.upload_plugin(write_fiftyone_plugin(tmp_path / "slow"), acting_user=E2E_ADMIN)
        fom.create_user("alice", fom.MEMBER, acting_user=E2E_ADMIN)
        fom.create_user("bob", fom.MEMBER, acting_user=E2E_ADMIN)

    wanted = {DISPATCHER_DAG_ID, operator_dag_id(CLEAR), operator_dag_id(CLONE), operator_dag_id(SLOW)}
    extra = {"AIRFLOW__FIFTYOPS__FIFTYONE_PYTHON": fiftyone_python, "SLOW_TOKEN": "s3cret"}
    with running_stack(
        mongod, mongo_client, tmp_path, E2E_DATABASE, wanted, extra_env=extra, start_timeout=420, prepare=upload_plugin
    ) as stack:
        ids = fiftyone(QUEUE, E2E_DATABASE)
        ids["clone"] = fiftyone(QUEUE_CLONE % CLONE, E2E_DATABASE)
        before = {name: stack.db.delegated_ops.find_one({"_id": ObjectId(ids[name])}) for name in ids}
        # The FiftyOne-made dataset, by name, for FiftyOps' grants and delegate()
        monkeypatch.setenv("FIFTYOPS_DATABASE_NAME", E2E_DATABASE)
        fom.grant_dataset_permission("alice", "fo-made", fom.EDIT, acting_user=E2E_ADMIN)
        with pytest.raises(PermissionDenied):
            delegate(SLOW, dataset="fo-made", params={"steps": 2}, user="bob", db=stack.db)
        slow = delegate(SLOW, dataset="fo-made", params={"steps": 2}, user="alice", db=stack.db)
        ids["slow"] = str(slow.id)
        deadline = time.monotonic() + 300
        ours = ("clear", "clone", "slow")
        while any(stack.service.get(ids[name]).run_state not in (S.COMPLETED, S.FAILED) for name in ours):
            assert time.monotonic() < deadline, "the FiftyOne operations did not finish on Airflow"
            time.sleep(1)
        # A builtin queued from its DAG's Trigger form (the REST trigger with conf, as the form sends
        # it), checked and queued by FiftyOps as the Airflow user, then run by that same DAG run
        form = stack.api.trigger(
            operator_dag_id(CLONE), conf={"dataset": "fo-made", "field_name": "keep", "new_field_name": "formed"}
        )
        ti = stack.api.wait_for_ti(operator_dag_id(CLONE), form["dag_run_id"], OPERATOR_TASK_ID, {"success", "failed"})
        launched = [
            d for d in stack.service.list_operations(operator=CLONE) if form["dag_run_id"] in unquote(d.run_link or "")
        ]
        formed = [sample.get("formed") for sample in load_dataset(stack.db, None, "fo-made")]
        seen = fiftyone(READ % ids, E2E_DATABASE)
        listed, info = (
            fiftyone_cli(fiftyone_python, mongod.uri, ["list"]),
            fiftyone_cli(fiftyone_python, mongod.uri, ["info", ids["clear"]]),
        )
        after = {name: stack.db.delegated_ops.find_one({"_id": before[name]["_id"]}) for name in before}
    assert seen["states"] == {
        "other_target": "queued",
        "unknown": "queued",
        "clear": "completed",
        "clone": "completed",
        "slow": "completed",
    }, seen["errors"]
    for name in ("other_target", "unknown"):  # never picked up, claimed or failed: byte for byte
        assert after[name] == before[name]
    assert ti["state"] == "success" and len(launched) == 1, launched
    assert launched[0].queued_by == E2E_ADMIN and launched[0].run_state is S.COMPLETED
    assert launched[0].params == {"field_name": "keep", "new_field_name": "formed"}
    assert formed == [0, 1, 2, 3, 4]  # the Trigger form's builtin ran on the real dataset
    assert seen["scores"] == [None] * 5 and seen["keep"] == [0, 1, 2, 3, 4]
    assert seen["kept"] == [0, 1, 2, 3, 4]  # the second builtin's effect in the real dataset
    assert seen["results"]["slow"] == {"version": "registry", "token_ok": True, "steps": 2, "op": ids["slow"]}
    assert seen["loadable"] == sorted(["fo-made", E2E_DATASET])  # FiftyOps' dataset too
    for name in ours:
        assert seen["run_links"][name].startswith(stack.standalone.base_url)
    assert f"/dags/{operator_dag_id(CLEAR)}/runs/" in seen["run_links"]["clear"]
    assert f"/dags/{operator_dag_id(SLOW)}/runs/" in seen["run_links"]["slow"]  # the plugin's own DAG
    # FiftyOne's own CLI reads what FiftyOps ran
    assert ids["clear"] in listed and "completed" in listed
    assert "'run_state': 'completed'" in info and seen["run_links"]["clear"] in info


def fiftyone_cli(fiftyone_python: str, uri: str, args: list[str]) -> str:
    """``fiftyone delegated <args>`` in the FiftyOne venv, on the end-to-end database."""
    env = {
        **os.environ,
        "FIFTYONE_DATABASE_URI": uri,
        "FIFTYONE_DATABASE_NAME": E2E_DATABASE,
        "FIFTYONE_DATABASE_ADMIN": "true",
        "FIFTYONE_DO_NOT_TRACK": "true",
    }
    done = subprocess.run(
        [str(Path(fiftyone_python).parent / "fiftyone"), "delegated", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout
