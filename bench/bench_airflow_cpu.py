"""Where a drain's time and CPU go: FiftyOps next to Airflow's floor, per component.

    .venv/bin/python bench/bench_airflow_cpu.py [--stack standalone|cluster] [--ops 120] [--quota 4]

On the dispatch benchmark's stack (``bench_airflow_dispatch.bench_stack``), drains ``--ops`` no-op
operations queued at once, then as many REST-triggered no-op runs. For each it prints the rate,
the CPU seconds per operation of every component (workers with the task processes they reaped,
api-servers, scheduler, dag-processor, triggerers, mongod, and on the cluster PostgreSQL and
Redis), read from /proc for every process on the machine (run it on an idle machine: a process
of anything else counts as "other"), and the mean time of each step of a run from Airflow's run
and task-instance records: how long runs wait for the scheduler, the pool and the executor.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import print_table
from bench_airflow_dispatch import FLOOR_DAG, OPERATION_DAG, STACKS, bench_stack, fiftyops_runs, floor_runs, parse_time

# (text in the command line or process title, the column it counts in); the first match wins.
COMPONENTS = (
    ("celery", "workers+tasks"),
    ("LocalExecutor", "workers+tasks"),
    ("airflow task", "workers+tasks"),
    ("airflow supervisor", "workers+tasks"),  # a pool process supervising a task is renamed
    ("api_server", "api-servers"),
    ("api-server", "api-servers"),
    ("scheduler", "scheduler"),
    ("dag-processor", "dag-processor"),
    ("triggerer", "triggerers"),
    ("mongod", "mongod"),
    ("postgres", "postgres"),
    ("redis-server", "redis"),
)
COLUMNS = [*dict.fromkeys(column for _, column in COMPONENTS), "other"]


def component(process: psutil.Process) -> str:
    command = " ".join(process.cmdline())
    return next((column for text, column in COMPONENTS if text in command), "other")


def cpu_by_process() -> dict[tuple[int, float], tuple[str, float]]:
    """Every process's CPU seconds so far, with its reaped children (a worker's finished task
    processes), keyed by (pid, start time) so a reused pid is another process."""
    seen = {}
    for process in psutil.process_iter():
        try:
            times = process.cpu_times()
            seen[(process.pid, process.create_time())] = (
                component(process),
                times.user + times.system + times.children_user + times.children_system,
            )
        except psutil.Error:
            continue
    return seen


def cpu_between(before: dict, after: dict) -> dict[str, float]:
    """CPU seconds by component between two readings (a process started in between counts whole)."""
    totals: dict[str, float] = defaultdict(float)
    for key, (name, seconds) in after.items():
        totals[name] += seconds - (before[key][1] if key in before else 0.0)
    return totals


def mongo_operations(stack) -> dict[str, int]:
    """The primary's operation counters (opcounters: insert, query, update, delete, getmore, command)."""
    return dict(stack.database.client.admin.command("serverStatus")["opcounters"])


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
    parser.add_argument("--stack", choices=sorted(STACKS), default="standalone")
    parser.add_argument("--ops", type=int, default=120)
    parser.add_argument("--quota", type=int, default=4)
    args = parser.parse_args()
    with bench_stack(args.stack, args.quota) as stack:
        rows: list[list[object]] = []
        steps: list[list[object]] = []
        operations: list[list[object]] = []
        for name, dag_id, drain in (
            ("FiftyOps", OPERATION_DAG, lambda: fiftyops_runs(stack, args.ops, concurrent=True)),
            ("Airflow floor", FLOOR_DAG, lambda: floor_runs(stack, args.ops, concurrent=True)),
        ):
            time.sleep(3)
            before, counted, started = cpu_by_process(), mongo_operations(stack), time.time()
            drain()
            wall = time.time() - started
            counts = mongo_operations(stack)
            operations.append([name, *(f"{(counts[key] - counted[key]) / args.ops:.1f}" for key in counts)])
            cpu = {key: seconds / args.ops for key, seconds in cpu_between(before, cpu_by_process()).items()}
            rows.append(
                [
                    name,
                    f"{60 * args.ops / wall:.1f}",
                    f"{sum(cpu.values()):.3f}",
                    *(f"{cpu.get(column, 0.0):.3f}" for column in COLUMNS),
                ]
            )
            steps.append([name, *(f"{seconds:.2f}" for seconds in run_steps(stack, dag_id, started))])
        title = f"{args.ops} at once ({args.stack}, quota {args.quota}, {stack.executor})"
        print(f"\n{title}: rate and CPU seconds per operation")
        print_table(["", "per min", "CPU total", *COLUMNS], rows)
        print("\nMongoDB operations per operation or run (the primary's opcounters, the drain's own included)")
        print_table(["", *mongo_operations(stack)], operations)
        print("\nMean seconds per step of a run")
        print_table(["", "created -> run started", "-> task queued", "-> task started", "-> task ended"], steps)


if __name__ == "__main__":
    main()
