"""Concurrent claimers on one operation store, as separate processes (one GIL each), making the
same calls a dispatcher and an executor make: pick up a batch (exclusive dispatch, one write for
``PICKUP_BATCH`` operations, as the Airflow dispatcher's rounds do), claim each (queued -> running,
compare-and-set with a claim token) and, when asked, run and complete with that token.

Every tenth round a claimer also grabs the oldest queued operation directly, without picking it
up first, the way a second dispatcher with a stale view would: the compare-and-set must still let
exactly one claimer have it. A run adds 1 to the operation's row in ``TALLY``, a collection of its
own, so a duplicate run shows there even if the store looked fine.

Used by ``tests/reliability/test_exactly_once.py`` (proof) and ``bench/bench_claims.py`` (speed),
which imports it from here: the tests never depend on benchmark code.
"""

from __future__ import annotations

import multiprocessing
import time
import uuid
from dataclasses import dataclass, field

from pymongo import MongoClient
from pymongo.database import Database

from fiftyops_provider.store import COLLECTION_NAME, DelegatedOperationService, ExecutionRunState

TALLY = "claim_tally"
ROGUE_EVERY = 10
PICKUP_BATCH = 16


@dataclass
class ClaimerReport:
    claimer: str
    claimed: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # claim + its share of the pick-up, seconds
    lost_races: int = 0


def queue_operations(db: Database, count: int, batch: int = 10_000) -> None:
    """``count`` queued no-op operations: one queued by the service, the rest copies of its
    document inserted in bulk (queueing 100k one by one would dominate the benchmark)."""
    doc = DelegatedOperationService(db).queue_operation("@bench/claims/noop", initial_state="queued").to_pymongo()
    doc.pop("_id")
    remaining = count - 1
    for start in range(0, remaining, batch):
        db[COLLECTION_NAME].insert_many([dict(doc) for _ in range(min(batch, remaining - start))], ordered=False)


def _claim(
    service: DelegatedOperationService, doc_id, report: ClaimerReport, overhead: float, complete: bool, tally
) -> None:
    """Claim one operation; ``overhead`` is the seconds already spent getting it (its pick-up share)."""
    token = uuid.uuid4().hex
    started = time.perf_counter()
    if service.set_running(doc_id, required_state=ExecutionRunState.QUEUED, claim_token=token) is None:
        report.lost_races += 1
        return
    report.latencies.append(overhead + time.perf_counter() - started)
    report.claimed.append(str(doc_id))
    if complete:
        tally.update_one({"_id": doc_id}, {"$inc": {"runs": 1}}, upsert=True)
        service.set_completed(doc_id, {"ok": True}, claim_token=token)


def claim_until_drained(uri: str, database: str, claimer: str, complete: bool) -> ClaimerReport:
    """Claim (and with ``complete``, run) queued operations until none is left."""
    client = MongoClient(uri)
    db = client[database]
    service = DelegatedOperationService(db)
    report = ClaimerReport(claimer)
    rounds = 0
    try:
        while True:
            rounds += 1
            started = time.perf_counter()
            if rounds % ROGUE_EVERY == 0:
                oldest = db[COLLECTION_NAME].find_one({"run_state": "queued"}, {"_id": 1}, sort=[("_id", 1)])
                if oldest is not None:
                    _claim(service, oldest["_id"], report, time.perf_counter() - started, complete, db[TALLY])
                continue
            picked = service.pick_up_queued_operations(claimer, limit=PICKUP_BATCH)
            if not picked:
                if db[COLLECTION_NAME].count_documents({"run_state": "queued"}, limit=1) == 0:
                    return report
                continue  # the rest are picked up by others (or expire back to pickable)
            share = (time.perf_counter() - started) / len(picked)
            for doc in picked:
                _claim(service, doc.id, report, share, complete, db[TALLY])
    finally:
        client.close()


def run_claimers(uri: str, database: str, claimers: int, complete: bool) -> tuple[float, list[ClaimerReport]]:
    """(wall seconds, one report per claimer process) of ``claimers`` processes draining the queue."""
    context = multiprocessing.get_context("spawn")  # a MongoClient must not cross a fork
    with context.Pool(claimers) as pool:
        started = time.perf_counter()
        reports = pool.starmap(
            claim_until_drained, [(uri, database, f"claimer-{i}", complete) for i in range(claimers)]
        )
        return time.perf_counter() - started, reports
