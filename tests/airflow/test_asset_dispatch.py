"""The event-driven dispatcher (``[fiftyops] dispatch_mode = asset``) on a real airflow standalone:
the asset watcher sees a queued operation and the dispatcher DAG runs it, with no sensor waiting."""

from __future__ import annotations

import pytest

from fiftyops_provider import delegate
from fiftyops_provider.dag_factory.naming import DISPATCHER_DAG_ID, EVENT_DISPATCHER_DAG_ID, operator_dag_id
from fiftyops_provider.store import ExecutionRunState as S
from tests.airflow.conftest import E2E_ADMIN, E2E_DATASET, E2E_SAMPLES, running_stack
from tests.airflow.test_end_to_end import wait_for

pytestmark = pytest.mark.airflow


@pytest.fixture(scope="module")
def asset_stack(mongod, mongo_client, tmp_path_factory):
    wanted = {EVENT_DISPATCHER_DAG_ID, operator_dag_id("@fiftyops/utils/count_samples")}
    with running_stack(
        mongod,
        mongo_client,
        tmp_path_factory.mktemp("asset"),
        "fiftyops_e2e_asset",
        wanted,
        {"AIRFLOW__FIFTYOPS__DISPATCH_MODE": "asset"},
    ) as stack:
        yield stack


def test_a_queued_operation_starts_the_event_driven_dispatcher(asset_stack):
    dag_ids = {d["dag_id"] for d in asset_stack.api.list_dags()}
    assert DISPATCHER_DAG_ID not in dag_ids  # no sensor loop in this mode
    doc = delegate("@fiftyops/utils/count_samples", dataset=E2E_DATASET, user=E2E_ADMIN, db=asset_stack.db)
    done = wait_for(asset_stack, doc.id, {S.COMPLETED, S.FAILED}, timeout=120)
    assert done.run_state is S.COMPLETED and done.result.result["count"] == E2E_SAMPLES
    runs = asset_stack.api.dag_runs(EVENT_DISPATCHER_DAG_ID)
    assert runs and all(run["run_type"] == "asset_triggered" for run in runs)
