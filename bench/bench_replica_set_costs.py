"""What one MongoDB operation costs the mongods of a three-member replica set, in CPU.

    .venv/bin/python bench/bench_replica_set_costs.py [--count 500]

On a scratch replica set (``stacks.mongo_replica_set``, the cluster stack's), one process makes
``--count`` of each: a read by ``_id``, a majority-acknowledged update, a findAndModify (the
store's transitions), and a client's life as a short-lived process has it (connect, one read,
close) with pymongo's two server-monitoring modes. For each it prints the CPU seconds all members
spent per operation, read from /proc, and the wall time per operation. It tells what a FiftyOps
run's writes, reads and clients cost the database where ``bench_airflow_cpu.py`` counts them.
Run it on an idle machine: the members' idle CPU is measured first and taken off.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psutil
from pymongo import MongoClient

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import print_table

from fiftyops_provider.stacks.mongo_replica_set import MongoReplicaSet

SETTLE_SECONDS = 2.0


def members_cpu(members: list[psutil.Process]) -> float:
    return sum(member.cpu_times().user + member.cpu_times().system for member in members)


def measure(members: list[psutil.Process], idle_per_second: float, count: int, work: Callable[[], None]) -> list[str]:
    """(mongod CPU ms per operation, wall ms per operation) of ``count`` calls of ``work``."""
    time.sleep(SETTLE_SECONDS)
    cpu, started = members_cpu(members), time.monotonic()
    for _ in range(count):
        work()
    wall = time.monotonic() - started
    spent = members_cpu(members) - cpu - idle_per_second * wall
    return [f"{1000 * spent / count:.2f}", f"{1000 * wall / count:.2f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=500)
    args = parser.parse_args()
    replica_set = MongoReplicaSet(Path(tempfile.mkdtemp(prefix="fiftyops-bench-")))
    uri = replica_set.start()
    try:
        members = [psutil.Process(process.pid) for process in replica_set.processes if process is not None]
        client: MongoClient = MongoClient(uri)
        collection = client.bench.operations
        collection.insert_one({"_id": 1, "n": 0})
        time.sleep(SETTLE_SECONDS)
        before = members_cpu(members)
        time.sleep(10)
        idle = (members_cpu(members) - before) / 10

        def short_lived_client(mode: str) -> Callable[[], None]:
            def work() -> None:
                with MongoClient(uri, serverMonitoringMode=mode) as other:
                    other.bench.operations.find_one({"_id": 1})

            return work

        clients = max(1, args.count // 10)
        rows = [
            ["read by _id", *measure(members, idle, args.count, lambda: collection.find_one({"_id": 1}))],
            [
                "update, majority",
                *measure(members, idle, args.count, lambda: collection.update_one({"_id": 1}, {"$inc": {"n": 1}})),
            ],
            [
                "findAndModify, majority",
                *measure(
                    members, idle, args.count, lambda: collection.find_one_and_update({"_id": 1}, {"$inc": {"n": 1}})
                ),
            ],
            ["new client, one read, close (stream)", *measure(members, idle, clients, short_lived_client("stream"))],
            ["new client, one read, close (poll)", *measure(members, idle, clients, short_lived_client("poll"))],
        ]
        client.close()
        print(f"\nThree-member replica set, idle members {100 * idle:.1f}% of a core (taken off below)")
        print_table(["operation", "mongod CPU ms (all members)", "wall ms"], rows)
    finally:
        replica_set.stop()


if __name__ == "__main__":
    main()
