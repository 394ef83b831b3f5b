"""Pickup latency and throughput of FiftyOps on a real Airflow, next to Airflow's own floor on the same stack.

    .venv/bin/python bench/bench_airflow_dispatch.py [--stack standalone|cluster] [--latency-runs 30]
        [--repeat 1] [--throughput-ops 200] [--quota 4] [--dispatch-ahead N]

``--stack standalone`` (default): a scratch mongod and an ``airflow standalone`` (LocalExecutor,
SQLite, parallelism sized to the machine). ``--stack cluster``: the distributed stack
(``stacks.cluster.ClusterStack``: PostgreSQL, Redis, CeleryExecutor with two Celery workers,
a three-member replica set). Either has the ``fiftyops`` pool (quota) and, for the floor, two no-op
DAGs in the same DAG folder. Then:
1. latency (``--repeat`` times in a row on the same stack, one table each): N no-op operations
   (``@fiftyops/utils/sleep`` with 0 s) queued one at a time: queue -> running and queue ->
   completed; interleaved with N REST-triggered runs of a one-task no-op DAG: trigger -> task
   start and trigger -> done (Airflow's own floor, same run).
2. throughput: M no-op operations queued at once and drained, next to M REST-triggered no-op runs
   in the default pool, and M more in a pool with the quota's slots (Airflow's own cost of a pool).
Prints p50/p95, the ratios and the load average. Everything it starts is stopped by PID.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import percentile, print_table

from fiftyops_provider.dag_factory.naming import dispatch_run_id
from fiftyops_provider.stacks.embedded_mongo import free_port

ROOT = Path(__file__).resolve().parents[1]
# The no-op's first line writes the moment its code starts (a file per run in MARKS): the floor's
# counterpart of an operation's claim, which also comes after Airflow has started the task.
NOOP_DAG = """
import time
from datetime import datetime, timezone
from pathlib import Path
from airflow.sdk import DAG, task

MARKS = Path({marks!r})

for dag_id, pool in (("bench_noop", "default_pool"), ("bench_noop_pooled", "bench_quota")):
    with DAG(dag_id, schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc), catchup=False,
             is_paused_upon_creation=False, max_active_runs=64):
        @task(pool=pool)
        def noop(run_id=None):
            (MARKS / run_id).write_text(repr(time.time()))
        noop()
"""
FLOOR_DAG, POOLED_FLOOR_DAG, FLOOR_POOL = "bench_noop", "bench_noop_pooled", "bench_quota"
OPERATION_DAG = "fiftyops__fiftyops_utils__sleep"
SCHEDULER_LOOP = 1.0  # seconds: [scheduler] scheduler_idle_sleep_time, Airflow's default on both stacks
JITTER = random.Random(0)


@dataclass
class BenchStack:
    """What the benchmark needs of a started stack, whichever it is."""

    api: Any  # AirflowAPI, logged in once (a login inside a timed trigger would count)
    database: Any
    admin: str
    executor: str  # how tasks run, for the throughput table's title
    marks: Path  # where the floor's no-op records when its code starts


def parse_time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def floor_runs(
    stack: BenchStack, count: int, concurrent: bool, dag_id: str = FLOOR_DAG, timeline: list | None = None
) -> tuple[list[float], list[float], float]:
    """(trigger->start, trigger->done, wall seconds) of ``count`` REST-triggered no-op runs.
    ``timeline`` gets each run's steps (``run_steps``), up to the no-op's code starting."""
    api = stack.api
    started = time.time()
    runs = []
    for _ in range(count):
        t0 = time.time()
        runs.append((t0, api.trigger(dag_id)["dag_run_id"]))
        if not concurrent:
            api.wait_for_ti(dag_id, runs[-1][1], "noop", {"success"}, timeout=120)
    to_start, to_done = [], []
    for t0, run_id in runs:
        ti = api.wait_for_ti(dag_id, run_id, "noop", {"success"}, timeout=600)
        to_start.append(parse_time(ti["start_date"]) - t0)
        to_done.append(parse_time(ti["end_date"]) - t0)
        if timeline is not None:
            code = float((stack.marks / run_id).read_text())
            timeline.append(run_steps(api, dag_id, run_id, "noop", t0, ti, running=code))
    return to_start, to_done, time.time() - started


STEPS = (
    "queue -> picked up by the dispatcher",
    "queue/trigger -> DAG run created",
    "DAG run created -> task scheduled",
    "task scheduled -> queued to the executor",
    "queued -> task process started",
    "task process started -> running (operation claimed / no-op's code started)",
)


def run_steps(api, dag_id: str, run_id: str, task_id: str, t0: float, ti: dict, picked=None, running=None) -> dict:
    """Where one run's time went, from Airflow's run and task records (and the operation's pick-up
    and claim times): seconds per step of ``STEPS``, each from the previous known moment."""
    run = api.request("GET", f"/dags/{dag_id}/dagRuns/{run_id}")
    moments = [
        picked,
        parse_time(run["queued_at"]),
        parse_time(ti["scheduled_when"]) if ti.get("scheduled_when") else None,
        parse_time(ti["queued_when"]) if ti.get("queued_when") else None,
        parse_time(ti["start_date"]),
        running,
    ]
    steps, previous = {}, t0
    for name, moment in zip(STEPS, moments):
        if moment is not None:
            steps[name] = moment - previous
            previous = moment
    return steps


def fiftyops_runs(
    stack: BenchStack, count: int, concurrent: bool, timeline: list | None = None
) -> tuple[list[float], list[float], float]:
    from fiftyops_provider import delegate
    from fiftyops_provider.store import DelegatedOperationService

    service = DelegatedOperationService(stack.database)
    started = time.time()
    queued = []
    for _ in range(count):
        t0 = time.time()
        doc = delegate(
            "@fiftyops/utils/sleep", dataset="fiftyops-demo", params={"seconds": 0}, user=stack.admin, db=stack.database
        )
        queued.append((t0, doc.id))
        if not concurrent:
            while not (done := service.get(doc.id)).is_terminal:
                time.sleep(0.05)
            # As the floor does: the next sample starts once Airflow has ended this task, not while
            # its process is still recording the outcome beside the next run.
            run_id = dispatch_run_id(str(doc.id), done.attempt - 1)
            stack.api.wait_for_ti(OPERATION_DAG, run_id, "run_operation", {"success", "failed"}, timeout=120)
    to_running, to_done = [], []
    for t0, doc_id in queued:
        while not (doc := service.get(doc_id)).is_terminal:
            time.sleep(0.1)
        assert doc.run_state == "completed", doc.result
        running = doc.started_at.replace(tzinfo=UTC).timestamp()
        to_running.append(running - t0)
        to_done.append(doc.completed_at.replace(tzinfo=UTC).timestamp() - t0)
        if timeline is not None:
            run_id = dispatch_run_id(str(doc_id), doc.attempt - 1)
            ti = stack.api.task_instance(OPERATION_DAG, run_id, "run_operation")
            picked = doc.dispatch["at"].replace(tzinfo=UTC).timestamp() if doc.dispatch else None
            timeline.append(run_steps(stack.api, OPERATION_DAG, run_id, "run_operation", t0, ti, picked, running))
    return to_running, to_done, time.time() - started


def print_steps(ours: list[dict], floor: list[dict]) -> None:
    """Median and mean of each step, FiftyOps next to the floor."""
    rows = []
    for name in STEPS:
        cells = [name]
        for timeline in (ours, floor):
            values = [steps[name] for steps in timeline if name in steps]
            cells += [f"{percentile(values, 50):.3f}", f"{statistics.mean(values):.3f}"] if values else ["", ""]
        rows.append(cells)
    print("\nWhere the time goes (seconds from the previous step; medians and means of the latency runs)")
    print_table(["step", "FiftyOps p50", "FiftyOps mean", "floor p50", "floor mean"], rows)


def write_dags(home: Path) -> Path:
    """The FiftyOps DAG file and the floor's no-op DAGs, side by side in one DAG folder."""
    folder = home / "dags"
    folder.mkdir(parents=True, exist_ok=True)
    (home / "marks").mkdir(exist_ok=True)
    shutil.copy(ROOT / "dags" / "fiftyops_dags.py", folder)
    (folder / "bench_noop.py").write_text(NOOP_DAG.format(marks=str(home / "marks")))
    return folder


@contextlib.contextmanager
def standalone_stack(home: Path, quota: int, worker_slots: int | None) -> Iterator[BenchStack]:
    """A scratch mongod + airflow standalone (``Stack``); its parallelism is sized to the machine."""
    if worker_slots is not None:
        raise SystemExit("--worker-slots is for --stack cluster; standalone's parallelism is sized to the machine.")
    os.environ.update({"FIFTYOPS_HOME": str(home), "FIFTYOPS_DB_PORT": str(free_port()), "FIFTYOPS_USER": "admin"})
    os.environ.pop("FIFTYOPS_DATABASE_URI", None)
    from fiftyops_provider.stacks.local import Stack

    stack = Stack(quota=quota, dags_folder=write_dags(home))
    try:
        stack.start(port=free_port())
        parallelism = stack.airflow.parallelism if stack.airflow else 0
        yield BenchStack(
            stack.api, stack.database, stack.admin, f"LocalExecutor, parallelism {parallelism}", home / "marks"
        )
    finally:
        stack.stop()


@contextlib.contextmanager
def cluster_stack(home: Path, quota: int, worker_slots: int | None) -> Iterator[BenchStack]:
    """The distributed stack (``ClusterStack``), its DAG folder holding the floor's DAGs too;
    ``worker_slots``: Celery task slots per worker (default: the cluster tests' 2)."""
    from fiftyops_provider.stacks.cluster import ADMIN, ClusterStack

    dags = write_dags(home)
    stack = ClusterStack(
        home,
        quota=quota,
        concurrency=worker_slots or ClusterStack.concurrency,
        extra_env={"AIRFLOW__CORE__DAGS_FOLDER": str(dags)},
    )
    os.environ.update({"FIFTYOPS_HOME": str(home / "admin"), "FIFTYOPS_USER": ADMIN})
    try:
        stack.start()
        workers = f"{len(stack.workers)} Celery workers x {stack.concurrency}"
        yield BenchStack(stack.api, stack.db, ADMIN, f"CeleryExecutor, {workers}", home / "marks")
    finally:
        stack.stop()


STACKS = {"standalone": standalone_stack, "cluster": cluster_stack}


@contextlib.contextmanager
def bench_stack(kind: str, quota: int, worker_slots: int | None = None) -> Iterator[BenchStack]:
    """A started stack of ``kind`` with the FiftyOps DAGs, the floor's two no-op DAGs and their
    pool, warmed by two runs of each; stopped and removed afterwards."""
    home = Path(tempfile.mkdtemp(prefix="fiftyops-bench-"))
    os.chmod(home, 0o755)  # the cluster's PostgreSQL runs as its own user
    from fiftyops_provider.stacks.demo import ensure_demo_dataset

    try:
        with STACKS[kind](home, quota, worker_slots) as stack:
            ensure_demo_dataset(stack.database)
            deadline = time.time() + 180
            stack.api.create_pool(FLOOR_POOL, quota, "the floor's runs under the same quota as FiftyOps")
            while not {FLOOR_DAG, POOLED_FLOOR_DAG, OPERATION_DAG} <= {d["dag_id"] for d in stack.api.list_dags()}:
                assert time.time() < deadline, "DAGs did not appear"
                time.sleep(1)
            fiftyops_runs(stack, 2, concurrent=False)  # warm the workers, as a user's first run would
            floor_runs(stack, 2, concurrent=False)
            yield stack
    except BaseException:
        print(f"Benchmark failed; the stack's files (Airflow logs, task logs) are kept in {home}", file=sys.stderr)
        raise
    shutil.rmtree(home, ignore_errors=True)


def load() -> str:
    """The load average (1, 5, 15 min), as ``uptime`` shows it: the machine is shared."""
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def latency(stack: BenchStack, runs: int, title: str) -> float:
    """One latency measurement of ``runs`` of each, interleaved; prints its tables and returns
    the queue/trigger -> running p50 ratio."""
    # Interleaved, one of each at a time: both sample the same scheduler and machine state
    # (the floor's p50 drifts by 0.3 s between runs of this benchmark). Each starts after a random
    # pause of up to one scheduler loop: back to back, each would land at a fixed point of the
    # scheduler's loop for many samples in a row, and "DAG run created -> task scheduled" (0.85 s
    # or 1.3 s, by where in the loop the run lands) would favour one side for a whole run.
    f_start, f_done, o_run, o_done = [], [], [], []
    floor_steps: list[dict] = []
    our_steps: list[dict] = []
    before = load()
    for _ in range(runs):
        time.sleep(JITTER.uniform(0, SCHEDULER_LOOP))
        measured = floor_runs(stack, 1, concurrent=False, timeline=floor_steps)
        f_start += measured[0]
        f_done += measured[1]
        time.sleep(JITTER.uniform(0, SCHEDULER_LOOP))
        measured = fiftyops_runs(stack, 1, concurrent=False, timeline=our_steps)
        o_run += measured[0]
        o_done += measured[1]
    # The floor's steps run from the trigger to its code's start: their sum is that latency.
    f_code = [sum(steps.values()) for steps in floor_steps]
    rows = []
    for name, ours, floor in (
        ("queue/trigger -> running", o_run, f_start),
        ("queue/trigger -> done", o_done, f_done),
        ("queue/trigger -> claimed / no-op's code started", o_run, f_code),
    ):
        rows.append(
            [
                name,
                f"{percentile(ours, 50):.2f}",
                f"{percentile(ours, 95):.2f}",
                f"{percentile(floor, 50):.2f}",
                f"{percentile(floor, 95):.2f}",
                f"{percentile(ours, 50) / percentile(floor, 50):.2f}x",
            ]
        )
    print(
        f"\n{title}: latency, {runs} sequential runs of each, interleaved (seconds); load average {before} -> {load()}"
    )
    print_table(
        ["measure", "FiftyOps p50", "FiftyOps p95", "Airflow floor p50", "Airflow floor p95", "p50 ratio"], rows
    )
    print_steps(our_steps, floor_steps)
    return percentile(o_run, 50) / percentile(f_start, 50)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", choices=sorted(STACKS), default="standalone")
    parser.add_argument("--latency-runs", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=1, help="latency measurements in a row on the same stack")
    parser.add_argument("--throughput-ops", type=int, default=200)
    parser.add_argument("--quota", type=int, default=4)
    parser.add_argument(
        "--dispatch-ahead", type=int, help="[fiftyops] dispatch_ahead: runs handed to Airflow beyond the quota"
    )
    parser.add_argument("--worker-slots", type=int, help="Celery task slots per worker (cluster only; default 2)")
    args = parser.parse_args()
    if args.dispatch_ahead is not None:  # every Airflow component the stack starts inherits it
        os.environ["AIRFLOW__FIFTYOPS__DISPATCH_AHEAD"] = str(args.dispatch_ahead)
    with bench_stack(args.stack, args.quota, args.worker_slots) as stack:
        if args.latency_runs:
            ratios = [
                latency(stack, args.latency_runs, f"{args.stack} ({stack.executor}), run {i + 1}/{args.repeat}")
                for i in range(args.repeat)
            ]
            print(f"\nqueue/trigger -> running p50 ratios, {args.stack}: " + ", ".join(f"{r:.2f}x" for r in ratios))
        if args.throughput_ops:
            before = load()
            _, _, ours_wall = fiftyops_runs(stack, args.throughput_ops, concurrent=True)
            print(f"\nFiftyOps drained {args.throughput_ops} operations in {ours_wall:.1f}s", flush=True)
            _, _, floor_wall = floor_runs(stack, args.throughput_ops, concurrent=True)
            _, _, pooled_wall = floor_runs(stack, args.throughput_ops, concurrent=True, dag_id=POOLED_FLOOR_DAG)
            rate = lambda wall: 60 * args.throughput_ops / wall  # noqa: E731
            print(
                f"\nThroughput on {args.stack}, {args.throughput_ops} at once "
                f"(pool/quota {args.quota}, dispatch_ahead {args.dispatch_ahead or 'default'}, {stack.executor}); "
                f"load average {before} -> {load()}"
            )
            print_table(
                ["", "operations or runs / min", "wall s", "FiftyOps ratio"],
                [
                    ["FiftyOps (pool `fiftyops`)", f"{rate(ours_wall):.1f}", f"{ours_wall:.1f}", ""],
                    [
                        "Airflow REST-triggered no-op (default pool)",
                        f"{rate(floor_wall):.1f}",
                        f"{floor_wall:.1f}",
                        f"{floor_wall / ours_wall:.2f}x",
                    ],
                    [
                        f"Airflow REST-triggered no-op (a {args.quota}-slot pool)",
                        f"{rate(pooled_wall):.1f}",
                        f"{pooled_wall:.1f}",
                        f"{pooled_wall / ours_wall:.2f}x",
                    ],
                ],
            )


if __name__ == "__main__":
    main()
