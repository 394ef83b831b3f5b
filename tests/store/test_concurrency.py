"""Concurrent writers from threads against the real mongod: compare-and-set has one winner."""

from __future__ import annotations

import threading
from collections import Counter

from fiftyops_provider.store import DelegatedOperationService
from fiftyops_provider.store import ExecutionRunState as S


def _run_threads(count: int, target) -> None:
    barrier = threading.Barrier(count)
    threads = [threading.Thread(target=lambda i=i: (barrier.wait(), target(i))) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_exactly_one_of_many_claimers_wins_each_operation(db):
    service = DelegatedOperationService(db)
    ids = [service.queue_operation("@org/p/op", initial_state="queued").id for _ in range(50)]
    wins: Counter = Counter()
    lock = threading.Lock()

    def claim_all(worker: int) -> None:
        mine = DelegatedOperationService(db)
        for doc_id in ids:
            if mine.set_running(doc_id, required_state="queued", claim_token=f"w{worker}") is not None:
                with lock:
                    wins[doc_id] += 1

    _run_threads(8, claim_all)
    assert set(wins) == set(ids)
    assert set(wins.values()) == {1}
    assert all(service.get(i).attempt == 1 for i in ids)


def test_concurrent_admitters_never_exceed_the_quota(db):
    service = DelegatedOperationService(db)
    for _ in range(40):
        service.queue_operation("@org/p/op")
    _run_threads(6, lambda _: [service.admit_scheduled_operations(quota=7) for _ in range(5)])
    assert service.count({"run_state": S.QUEUED}) == 7


def test_concurrent_pickups_hand_out_each_operation_once(db):
    service = DelegatedOperationService(db)
    for _ in range(30):
        service.queue_operation("@org/p/op", initial_state="queued")
    picked: list = []
    lock = threading.Lock()

    def pick(worker: int) -> None:
        got = service.pick_up_queued_operations(f"d{worker}", limit=30)
        with lock:
            picked.extend(d.id for d in got)

    _run_threads(5, pick)
    assert len(picked) == 30 and len(set(picked)) == 30
