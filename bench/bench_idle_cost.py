"""MongoDB operations per minute caused by the FiftyOps trigger while nothing is queued.

    .venv/bin/python bench/bench_idle_cost.py [--minutes 2]

Starts the stack (scratch mongod + airflow standalone, direct dispatch mode), waits until the
dispatcher task is deferred, then turns on the database profiler and counts, per client
``appName``, the operations issued during the idle window. The trigger identifies itself as
``fiftyops-trigger``; DAG parsing (the dag-processor reading the plugin registry every few
seconds) is reported separately. Target: <= 1 trigger operation per minute.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import print_table

from fiftyops_provider.dag_factory.naming import DISPATCH_TASK_ID, DISPATCHER_DAG_ID
from fiftyops_provider.stacks.embedded_mongo import free_port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=2.0)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="fiftyops-idle-"))
    os.environ.update({"FIFTYOPS_HOME": str(home), "FIFTYOPS_DB_PORT": str(free_port()), "FIFTYOPS_USER": "admin"})
    os.environ.pop("FIFTYOPS_DATABASE_URI", None)
    from fiftyops_provider.stacks.local import Stack

    stack = Stack()
    try:
        stack.start(port=free_port())
        deadline = time.time() + 180
        while True:
            runs = stack.api.dag_runs(DISPATCHER_DAG_ID)
            tis = [stack.api.task_instance(DISPATCHER_DAG_ID, r["dag_run_id"], DISPATCH_TASK_ID) for r in runs[:1]]
            if tis and tis[0].get("state") == "deferred":
                break
            assert time.time() < deadline, "the dispatcher task never deferred"
            time.sleep(1)
        time.sleep(5)
        db = stack.database
        db.command("profile", 2)
        window = args.minutes * 60
        time.sleep(window)
        db.command("profile", 0)
        counts = Counter(entry.get("appName", "?") for entry in db["system.profile"].find({}, {"appName": 1}))
        rows = [[app, count, f"{count / args.minutes:.1f}"] for app, count in counts.most_common()]
        print(f"\nMongoDB operations on database {db.name!r} while idle for {args.minutes:g} min")
        print_table(["client appName", "operations", "per minute"], rows or [["(none)", 0, "0.0"]])
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
