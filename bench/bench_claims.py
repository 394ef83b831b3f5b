"""Claims per second with concurrent claimers on a large queue, and proof of no duplicates.

    .venv/bin/python bench/bench_claims.py [--ops 100000] [--claimers 8]

Queues ``--ops`` operations on a scratch mongod, then ``--claimers`` processes drain them with the
dispatcher's and executor's own calls (pick up, then claim queued -> running by compare-and-set;
see ``tests/reliability/claimers.py``, shared with the exactly-once test). Prints claims/s, claim
latency and the duplicate/lost counts, which must be 0. Target: >= 2,000 claims/s with 8 claimers
on 100k queued operations.

Next to it, the machine's ceiling for the claim's one unavoidable write: the same number of
processes each making single-document findAndModify calls by ``_id`` on documents of their own
(no contention, no pick-up), with the store's write concern (majority: journaled).
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the claimer harness lives in tests/

from _common import print_table, scratch_mongod, summarize_ms
from pymongo import MongoClient

from fiftyops_provider.store import COLLECTION_NAME
from tests.reliability.claimers import queue_operations, run_claimers

DATABASE = "bench_claims"
CEILING_WRITES = 2_000


def durable_writes(uri: str, writes: int) -> float:
    """Seconds for ``writes`` findAndModify calls by _id on this process's own documents."""
    collection = MongoClient(uri)[DATABASE]["write_ceiling"]
    ids = collection.insert_many([{"state": "queued"} for _ in range(writes)]).inserted_ids
    started = time.perf_counter()
    for doc_id in ids:
        collection.find_one_and_update({"_id": doc_id, "state": "queued"}, {"$set": {"state": "running"}})
    return time.perf_counter() - started


def write_ceiling(uri: str, processes: int) -> float:
    """Durable single-document writes per second with ``processes`` writers at once."""
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        started = time.perf_counter()
        pool.starmap(durable_writes, [(uri, CEILING_WRITES)] * processes)
        return processes * CEILING_WRITES / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ops", type=int, default=100_000)
    parser.add_argument("--claimers", type=int, default=8)
    args = parser.parse_args()
    with scratch_mongod() as mongod:
        client = MongoClient(mongod.uri)
        started = time.perf_counter()
        queue_operations(client[DATABASE], args.ops)
        print(f"queued {args.ops} operations in {time.perf_counter() - started:.1f} s")
        wall, reports = run_claimers(mongod.uri, DATABASE, args.claimers, complete=False)
        claims = Counter(doc_id for report in reports for doc_id in report.claimed)
        duplicates = sum(n - 1 for n in claims.values() if n > 1)
        running = client[DATABASE][COLLECTION_NAME].count_documents({"run_state": "running", "attempt": 1})
        lost = args.ops - len(claims)
        latencies = [t for report in reports for t in report.latencies]
        p50, p95, _ = summarize_ms(latencies)
        print_table(
            [
                "ops",
                "claimers",
                "wall s",
                "claims/s",
                "claim p50 ms",
                "claim p95 ms",
                "lost races",
                "duplicates",
                "lost",
                "running (attempt 1)",
            ],
            [
                [
                    args.ops,
                    args.claimers,
                    f"{wall:.1f}",
                    f"{len(claims) / wall:.0f}",
                    f"{p50:.2f}",
                    f"{p95:.2f}",
                    sum(r.lost_races for r in reports),
                    duplicates,
                    lost,
                    running,
                ]
            ],
        )
        ceiling = write_ceiling(mongod.uri, args.claimers)
        print(
            f"\nCeiling: {args.claimers} processes, one durable findAndModify by _id each, no contention: "
            f"{ceiling:.0f} writes/s (claims reach {len(claims) / wall / ceiling:.0%} of it)"
        )
        client.close()
        if duplicates or lost or running != args.ops:
            raise SystemExit("FAILED: an operation was claimed twice or not at all")


if __name__ == "__main__":
    main()
