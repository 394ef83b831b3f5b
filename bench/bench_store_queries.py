"""Runs-page query latency on a large ``delegated_ops`` collection.

    .venv/bin/python bench/bench_store_queries.py [--docs 1000000] [--repeats 50]

Fills a scratch mongod with N operation documents (a realistic mix of states, operators, users,
datasets), then times each Runs-page query (a page of 20, then the page with its total, exact up
to 10,000) and a search, and
prints p50/p95 and the index the winning plan used. Target: p95 <= 10 ms at 1M documents.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import print_table, scratch_mongod, summarize_ms
from pymongo import MongoClient

from fiftyops_provider.store import DelegatedOperationService
from fiftyops_provider.store.documents import DelegatedOperationDocument, utcnow
from fiftyops_provider.store.query import (
    SORT_PRESETS,
    DelegatedOperationPagingParams,
    build_filter,
    build_search,
    combine,
)

STATES = ["scheduled"] * 2 + ["queued"] * 2 + ["running"] + ["completed"] * 12 + ["failed"] * 3
OPERATORS = [f"@org{i % 7}/plugin{i % 13}/op{i}" for i in range(40)]
USERS = [f"user{i}" for i in range(200)]
DATASETS = [f"dataset{i}" for i in range(500)]

QUERIES = [
    ("all, recent", {}, None, "recent"),
    ("all, updated", {}, None, "updated"),
    ("all, oldest", {}, None, "oldest"),
    ("all, operator", {}, None, "operator"),
    ("running+queued", {"run_state": ["running", "queued"]}, None, "recent"),
    ("failed", {"run_state": "failed"}, None, "recent"),
    ("my runs", {"queued_by": "user7"}, None, "recent"),
    ("dataset", {"dataset_name": "dataset42"}, None, "recent"),
    ("pinned", {"pinned": True}, None, "recent"),
    ("search operator", {}, "plugin3/", "recent"),
]


def fill(db, count: int) -> None:
    rng = random.Random(1)
    base = utcnow()
    batch = []
    for i in range(count):
        doc = DelegatedOperationDocument(
            operator=rng.choice(OPERATORS),
            label=f"run {i}",
            run_state=rng.choice(STATES),
            context={"request_params": {"dataset_name": rng.choice(DATASETS), "params": {"i": i}}},
            queued_by=rng.choice(USERS),
            pinned=rng.random() < 0.001,
            archived=rng.random() < 0.02,
            scheduled_at=base + timedelta(milliseconds=i),
            updated_at=base + timedelta(seconds=rng.randint(0, 10**6)),
        )
        batch.append(doc.to_pymongo())
        if len(batch) == 10_000:
            db.delegated_ops.insert_many(batch, ordered=False)
            batch = []
    if batch:
        db.delegated_ops.insert_many(batch, ordered=False)


def winning_index(db, query: dict, sort: list) -> str:
    plan = db.delegated_ops.find(query).sort(sort).limit(20).explain()["queryPlanner"]["winningPlan"]
    names, stack = [], [plan]
    while stack:
        node = stack.pop()
        if node.get("stage") == "COLLSCAN":
            names.append("COLLSCAN")
        if "indexName" in node:
            names.append(node["indexName"])
        stack.extend(node.get("inputStages", []) + ([node["inputStage"]] if "inputStage" in node else []))
    return "+".join(names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    with scratch_mongod() as server, MongoClient(server.uri) as client:
        db = client.bench
        service = DelegatedOperationService(db)  # its indexes exist before the bulk insert
        started = time.perf_counter()
        fill(db, args.docs)
        print(f"inserted {args.docs} documents in {time.perf_counter() - started:.1f}s\n")
        rows = []
        for name, filters, search, preset in QUERIES:
            sort_by, direction = SORT_PRESETS[preset]
            paging = DelegatedOperationPagingParams(sort_by=sort_by, sort_direction=direction, limit=20)
            page_times, count_times = [], []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                service.page_operations(paging=paging, search=search, with_total=False, **filters)
                t1 = time.perf_counter()
                service.page_operations(paging=paging, search=search, **filters)
                page_times.append(t1 - t0)
                count_times.append(time.perf_counter() - t1)
            p50, p95, _ = summarize_ms(page_times)
            c50, c95, _ = summarize_ms(count_times)
            query = combine(build_filter(filters, include_archived=False), build_search(search))
            rows.append(
                [
                    name,
                    f"{p50:.2f}",
                    f"{p95:.2f}",
                    f"{c50:.2f}",
                    f"{c95:.2f}",
                    winning_index(db, query, paging.mongo_sort()),
                ]
            )
        print_table(
            ["query", "page p50 ms", "page p95 ms", "page+total p50 ms", "page+total p95 ms", "winning index"], rows
        )


if __name__ == "__main__":
    main()
