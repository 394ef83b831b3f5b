"""One distributed stack (``ClusterStack``: PostgreSQL, Redis, a 3-member MongoDB replica set,
api-server, scheduler, dag-processor, two triggerers, two Celery workers) for all of tests/cluster,
started once per session and stopped by PID at its end. Its settings come from
docker-compose.airflow.yml. The tests share it, so each leaves it whole (a killed process is
restarted by the test that killed it) and queues operations of its own.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fiftyops_provider import delegate
from fiftyops_provider.dag_factory.naming import DISPATCHER_DAG_ID, operator_dag_id
from fiftyops_provider.datasets.catalog import create_dataset
from fiftyops_provider.stacks.cluster import ADMIN, ClusterStack
from fiftyops_provider.store import DelegatedOperationService

PROBE_PLUGIN = Path(__file__).parent / "probe_plugin"
PROBE = "@fiftyops-tests/probe/probe"
PROBE_GPU = "@fiftyops-tests/probe/probe_gpu"
DATASET = "cluster"
RUNS = "cluster_probe_runs"


class Cluster:
    """The running stack plus what the tests do with it."""

    def __init__(self, stack: ClusterStack) -> None:
        self.stack = stack
        self.db = stack.db
        self.service = DelegatedOperationService(self.db)
        self.api = stack.api

    def queue(self, uri: str = PROBE, **params):
        records = {"records_uri": self.stack.mongo.uri, "records_db": self.db.name}
        return delegate(uri, dataset=DATASET, params={**records, **params}, user=ADMIN, db=self.db)

    def wait(self, doc_id, states, timeout: float = 120.0):
        deadline = time.monotonic() + timeout
        while True:
            doc = self.service.get(doc_id)
            if doc.run_state.value in states:
                return doc
            error = doc.result.error if doc.result else None
            finished = doc.run_state.value in ("completed", "failed")
            assert not finished and time.monotonic() < deadline, (
                f"operation {doc_id} is {doc.run_state.value}, not {states}: {error}"
            )
            time.sleep(0.25)

    def runs_of(self, doc_id) -> list[dict]:
        """The probe's own records of its runs of this operation (one per execution)."""
        return list(self.db[RUNS].find({"operation_id": str(doc_id)}))


def wait_for_dags(stack: ClusterStack, wanted: set[str], timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not wanted <= {d["dag_id"] for d in stack.api.list_dags()}:
        assert not stack.api.import_errors(), stack.api.import_errors()
        assert time.monotonic() < deadline, "the FiftyOps DAGs did not appear"
        time.sleep(1)


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    base = Path(tempfile.mkdtemp(prefix="fiftyops-cluster-"))
    stack = ClusterStack(base, plugins=[PROBE_PLUGIN])
    started = time.monotonic()
    patch = pytest.MonkeyPatch()
    patch.setenv("FIFTYOPS_HOME", str(base / "admin"))  # the tests' own plugin cache
    # The probe records which worker ran it: an admin lets that variable into operators' processes.
    patch.setenv("FIFTYOPS_CHILD_ENV_ALLOWLIST", "FIFTYOPS_CLUSTER_HOSTNAME")
    try:
        stack.start()
        create_dataset(stack.db, DATASET).add_samples([{"filepath": f"/data/{i:03d}.jpg"} for i in range(10)])
        wait_for_dags(stack, {DISPATCHER_DAG_ID, operator_dag_id(PROBE), operator_dag_id(PROBE_GPU)})
        print(f"\ncluster ready in {time.monotonic() - started:.1f}s under {base}")
        yield Cluster(stack)
    finally:
        stack.stop()
        patch.undo()
        shutil.rmtree(base, ignore_errors=True)
