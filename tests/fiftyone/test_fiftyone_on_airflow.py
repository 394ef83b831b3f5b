"""End to end: the real fiftyone queues a builtin operation with delegation on the FiftyOps
database; FiftyOps (``[fiftyops] fiftyone_python`` set, nothing else) runs it on a real airflow
standalone; FiftyOne's own service reads it completed, with the Airflow run_link. An operation for
another delegation target and one for an unknown operator stay queued, untouched."""

from __future__ import annotations

import time

import pytest
from bson import ObjectId

from fiftyops_provider.dag_factory.naming import DISPATCHER_DAG_ID, operator_dag_id
from fiftyops_provider.execution.fiftyone_runtime import FiftyOneRuntime
from fiftyops_provider.store import ExecutionRunState as S
from tests.airflow.conftest import E2E_DATABASE, E2E_DATASET, running_stack
from tests.fiftyone.test_fiftyone_operations import QUEUE, READ

pytestmark = [pytest.mark.fiftyone, pytest.mark.airflow]
CLEAR = "@voxel51/operators/clear_sample_field"


@pytest.mark.timeout(1200)
def test_a_fiftyone_operation_runs_on_airflow(fiftyone, fiftyone_python, mongod, mongo_client, tmp_path, monkeypatch):
    monkeypatch.delenv("FIFTYOPS_FIFTYONE_PYTHON")  # only the Airflow setting names the interpreter
    # List FiftyOne's operators once before Airflow parses the DAGs (as a deployment's first
    # parse does, more slowly): the listing is kept in FIFTYOPS_HOME for every process after.
    FiftyOneRuntime(fiftyone_python).operators(tmp_path / "fiftyops")
    wanted = {DISPATCHER_DAG_ID, operator_dag_id(CLEAR)}
    extra = {"AIRFLOW__FIFTYOPS__FIFTYONE_PYTHON": fiftyone_python}
    with running_stack(
        mongod, mongo_client, tmp_path, E2E_DATABASE, wanted, extra_env=extra, start_timeout=420
    ) as stack:
        ids = fiftyone(QUEUE, E2E_DATABASE)
        before = {name: stack.db.delegated_ops.find_one({"_id": ObjectId(ids[name])}) for name in ids}
        deadline = time.monotonic() + 240
        while stack.service.get(ids["clear"]).run_state not in (S.COMPLETED, S.FAILED):
            assert time.monotonic() < deadline, "the FiftyOne operation did not finish on Airflow"
            time.sleep(1)
        seen = fiftyone(READ % ids, E2E_DATABASE)
        after = {name: stack.db.delegated_ops.find_one({"_id": before[name]["_id"]}) for name in before}
    assert seen["states"] == {"other_target": "queued", "unknown": "queued", "clear": "completed"}, seen["errors"]
    for name in ("other_target", "unknown"):  # never picked up, claimed or failed: byte for byte
        assert after[name] == before[name]
    assert seen["scores"] == [None] * 5 and seen["keep"] == [0, 1, 2, 3, 4]
    assert seen["loadable"] == sorted(["fo-made", E2E_DATASET])  # FiftyOps' dataset too
    assert seen["run_links"]["clear"].startswith(stack.standalone.base_url)
    assert f"/dags/{operator_dag_id(CLEAR)}/runs/" in seen["run_links"]["clear"]
