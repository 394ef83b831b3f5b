"""``fiftyops cluster up``: the distributed stack (PostgreSQL, Redis, Celery workers, a MongoDB
replica set) on this machine, until Ctrl-C; see ``fiftyops_provider/stacks/cluster.py``."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from fiftyops_provider.cli.stack import wait_for_interrupt
from fiftyops_provider.stacks.cluster import ClusterFailed
from fiftyops_provider.stacks.postgres_server import PostgresUnavailable
from fiftyops_provider.stacks.redis_server import RedisUnavailable

# What `fiftyops cluster up` reports as a one-line error (fiftyops_provider/cli/main.py).
EXPECTED_ERRORS = (ClusterFailed, PostgresUnavailable, RedisUnavailable)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    cluster = subparsers.add_parser("cluster", help="the distributed stack: Celery workers, PostgreSQL, Redis")
    actions = cluster.add_subparsers(dest="action", required=True)
    up = actions.add_parser("up", help="start it on free loopback ports; Ctrl-C stops every process it started")
    up.add_argument("--dir", type=Path, default=None, help="where its data and logs go (default: a new temp dir)")
    up.add_argument("--quota", type=int, default=4, help="execution quota (pool slots)")
    up.set_defaults(func=cmd_up)


def cmd_up(args: argparse.Namespace) -> None:
    from fiftyops_provider.stacks.cluster import ClusterStack

    base = args.dir or Path(tempfile.mkdtemp(prefix="fiftyops-cluster-"))
    cluster = ClusterStack(base, quota=args.quota)
    print(f"Starting the cluster under {base} (2-3 minutes)...", flush=True)
    cluster.start()
    try:
        print(f"Airflow UI:   {cluster.base_url}  (user admin, password {cluster.password})")
        print(f"MongoDB:      {cluster.mongo.uri}  database {cluster.database_name}")
        print(f"Queue with:   FIFTYOPS_DATABASE_URI='{cluster.mongo.uri}' fiftyops queue ...")
        for component in cluster.components.values():
            print(f"  {component.name:<14} pid {component.pid:<8} log {component.log_file}")
        print("Ctrl-C stops everything.", flush=True)
        wait_for_interrupt()
    finally:
        print("Stopping...", flush=True)
        cluster.stop()
