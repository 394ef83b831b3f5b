"""Memory: the PSS the provider adds to an ``airflow standalone``.

    .venv/bin/python bench/bench_memory.py [--settle 20]

Three measurements of the whole standalone process tree (scheduler, dag-processor, triggerer,
api-server and their workers), summed as PSS (shared pages split between sharers, so the sum is
what the tree really costs):
1. Airflow alone: a standalone with an empty DAGs folder and without the provider's preload (its
   own process tree only: plain ``airflow standalone`` has no second execution API server);
2. FiftyOps idle: the FiftyOps DAGs (dispatcher + one DAG per operator) with the dispatcher's
   dispatcher task deferred in the triggerer;
3. one operation running: the same, while a ``sleep`` operation runs (its Airflow task process and
   the operator's child process).
Each standalone runs on its own, one after the other (they share fixed log-server ports).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import print_table

from fiftyops_provider.dag_factory.naming import DISPATCH_TASK_ID, DISPATCHER_DAG_ID
from fiftyops_provider.stacks.embedded_mongo import free_port
from fiftyops_provider.stacks.standalone import AirflowStandalone

MIB = 1024 * 1024


def tree_pss(root_pids: list[int]) -> tuple[float, int]:
    """(PSS in MiB, process count) of the ``root_pids`` and all their descendants."""
    total, count = 0, 0
    for root_pid in root_pids:
        root = psutil.Process(root_pid)
        for process in [root, *root.children(recursive=True)]:
            try:
                total += process.memory_full_info().pss
                count += 1
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
    return total / MIB, count


def airflow_alone(home: Path, settle: float) -> tuple[float, int]:
    empty = home / "empty-dags"
    empty.mkdir(parents=True)
    standalone = AirflowStandalone(home / "airflow-alone", empty, port=free_port(), preload=False)
    standalone.start()
    try:
        time.sleep(settle)
        return tree_pss([standalone.process.pid])
    finally:
        standalone.stop()


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(1)


def with_fiftyops(home: Path, settle: float) -> tuple[tuple[float, int], tuple[float, int], float]:
    """(idle, one running) as (PSS MiB, processes), and the execution API server's PSS at idle."""
    os.environ.update(
        {"FIFTYOPS_HOME": str(home / "fiftyops"), "FIFTYOPS_DB_PORT": str(free_port()), "FIFTYOPS_USER": "admin"}
    )
    os.environ.pop("FIFTYOPS_DATABASE_URI", None)
    from fiftyops_provider.datasets.catalog import create_dataset
    from fiftyops_provider.plugins.delegate import delegate
    from fiftyops_provider.stacks.local import Stack
    from fiftyops_provider.store import DelegatedOperationService

    stack = Stack()
    try:
        stack.start(port=free_port())

        def dispatcher_deferred() -> bool:
            runs = stack.api.dag_runs(DISPATCHER_DAG_ID)
            return (
                bool(runs)
                and stack.api.task_instance(DISPATCHER_DAG_ID, runs[0]["dag_run_id"], DISPATCH_TASK_ID).get("state")
                == "deferred"
            )

        wait_until(dispatcher_deferred, 180, "the dispatcher task to defer")
        time.sleep(settle)
        idle = tree_pss(stack.airflow.root_pids)
        execution_api = tree_pss([stack.airflow.execution_api.pid])[0]
        dataset = create_dataset(stack.database, "memory")
        doc = delegate("@fiftyops/utils/sleep", dataset, {"seconds": 60}, user="admin", db=stack.database)
        store = DelegatedOperationService(stack.database)
        wait_until(lambda: store.get(doc.id).run_state.value == "running", 120, "the operation to run")
        time.sleep(5)
        running = tree_pss(stack.airflow.root_pids)
        store.terminate(doc.id, "benchmark done")
        return idle, running, execution_api
    finally:
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settle", type=float, default=20.0, help="seconds to let each standalone settle")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="fiftyops-memory-"))
    alone = airflow_alone(home, args.settle)
    idle, running, execution_api = with_fiftyops(home, args.settle)
    print("\nPSS of the airflow standalone process tree (with FiftyOps: and its execution API server)")
    print_table(
        ["configuration", "processes", "PSS MiB", "added by FiftyOps MiB"],
        [
            ["Airflow alone (no DAGs)", alone[1], f"{alone[0]:.0f}", "-"],
            ["FiftyOps DAGs, idle (dispatcher deferred)", idle[1], f"{idle[0]:.0f}", f"{idle[0] - alone[0]:+.0f}"],
            ["one operation running", running[1], f"{running[0]:.0f}", f"{running[0] - alone[0]:+.0f}"],
        ],
    )
    print(f"\nof which the execution API server beside standalone: {execution_api:.0f} MiB")
    print(
        f"one running operation costs {running[0] - idle[0]:.0f} MiB over idle ({running[1] - idle[1]} more processes)"
    )


if __name__ == "__main__":
    main()
