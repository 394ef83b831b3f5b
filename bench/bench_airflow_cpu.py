"""Where a drain's time and CPU go: FiftyOps next to Airflow's floor, per component.

    .venv/bin/python bench/bench_airflow_cpu.py [--ops 120] [--quota 4]

On the dispatch benchmark's stack (``bench_airflow_dispatch.bench_stack``), drains ``--ops`` no-op
operations queued at once, then as many REST-triggered no-op runs. For each it prints the rate,
the CPU seconds per operation of every component of the standalone (scheduler, api-server,
triggerer, dag-processor, the LocalExecutor workers with the task processes they reaped, and the
stack's mongod), read from /proc, and the mean time of each step of a run from Airflow's run and
task-instance records: how long runs wait for the scheduler, the pool and the executor.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

import itertools

from _common import print_table
from bench_airflow_dispatch import FLOOR_DAG, OPERATION_DAG, bench_stack, fiftyops_runs, floor_runs, parse_time

COMPONENTS = ("api_server", "api-server", "scheduler", "triggerer", "dag-processor", "LocalExecutor", "mongod")


def component(process: psutil.Process) -> str:
    command = " ".join(process.cmdline())
    return next((name.replace("_", "-") for name in COMPONENTS if name in command), "other")


def cpu_by_component(stack) -> dict[str, float]:
    """CPU seconds so far, with reaped children (a worker's finished task processes), by component."""
    processes = []
    for pid in stack.airflow.root_pids:
        root = psutil.Process(pid)
        processes += [root, *root.children(recursive=True)]
    mongod = stack.mongo.recorded_pid() if stack.mongo else None
    if mongod is not None:
        processes.append(psutil.Process(mongod))
    totals: dict[str, float] = defaultdict(float)
    for process in processes:
        try:
            times = process.cpu_times()
            totals[component(process)] += times.user + times.system + times.children_user + times.children_system
        except psutil.Error:
            continue
    return totals


def run_steps(stack, dag_id: str, since: float) -> list[float]:
    """Mean seconds of: run created -> run started -> task queued -> task started -> task ended."""
    runs = {
        r["dag_run_id"]: r
        for r in stack.api.request("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 1000})["dag_runs"]
    }
    tis = stack.api.request("GET", f"/dags/{dag_id}/dagRuns/~/taskInstances", params={"limit": 1000})["task_instances"]
    steps = []
    for ti in tis:
        run = runs.get(ti["dag_run_id"])
        if run is None or not ti.get("end_date") or parse_time(ti["start_date"]) < since:
            continue
        marks = [
            parse_time(v)
            for v in (run["run_after"], run["start_date"], ti["queued_when"], ti["start_date"], ti["end_date"])
        ]
        steps.append([b - a for a, b in itertools.pairwise(marks)])
    return [statistics.mean(column) for column in zip(*steps)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ops", type=int, default=120)
    parser.add_argument("--quota", type=int, default=4)
    args = parser.parse_args()
    with bench_stack(args.quota) as stack:
        rows, steps = [], []
        for name, dag_id, drain in (
            ("FiftyOps", OPERATION_DAG, lambda: fiftyops_runs(stack, args.ops, concurrent=True)),
            ("Airflow floor", FLOOR_DAG, lambda: floor_runs(stack.api, args.ops, concurrent=True)),
        ):
            time.sleep(3)
            before, started = cpu_by_component(stack), time.time()
            drain()
            wall, after = time.time() - started, cpu_by_component(stack)
            cpu = {key: (after[key] - before.get(key, 0.0)) / args.ops for key in after}
            rows.append(
                [
                    name,
                    f"{60 * args.ops / wall:.1f}",
                    f"{sum(cpu.values()):.3f}",
                    *(
                        f"{cpu.get(key, 0.0):.3f}"
                        for key in ("LocalExecutor", "api-server", "scheduler", "dag-processor", "triggerer", "mongod")
                    ),
                ]
            )
            steps.append([name, *(f"{seconds:.2f}" for seconds in run_steps(stack, dag_id, started))])
        print(
            f"\n{args.ops} at once (quota {args.quota}, parallelism {stack.airflow.parallelism}): "
            "rate and CPU seconds per operation"
        )
        print_table(
            [
                "",
                "per min",
                "CPU total",
                "workers+tasks",
                "api-server",
                "scheduler",
                "dag-processor",
                "triggerer",
                "mongod",
            ],
            rows,
        )
        print("\nMean seconds per step of a run")
        print_table(["", "created -> run started", "-> task queued", "-> task started", "-> task ended"], steps)


if __name__ == "__main__":
    main()
