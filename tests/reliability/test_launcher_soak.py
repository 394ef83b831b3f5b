"""Exactly-once under load: many operations, eight launchers sharing one store. Each operation
writes a tally of its own executions, so a duplicate run would show even if the store looked fine."""

from __future__ import annotations

import threading
import time

from sample_operators import FAST, uri

from fiftyops_provider.execution import run_launcher
from fiftyops_provider.store import ExecutionRunState as S

OPERATIONS = 160
LAUNCHERS = 8


def test_every_operation_runs_exactly_once_with_eight_launchers(service, db):
    ids = [service.queue_operation(uri("tally"), queued_by="alice").id for _ in range(OPERATIONS)]  # all scheduled
    stop = threading.Event()
    launchers = [
        threading.Thread(
            target=run_launcher,
            args=(service,),
            kwargs={"stop_event": stop, "poll_interval": 0.05, "admission_quota": LAUNCHERS, **FAST},
        )
        for _ in range(LAUNCHERS)
    ]
    for launcher in launchers:
        launcher.start()
    try:
        deadline = time.monotonic() + 600
        while service.count({"run_state": [S.SCHEDULED, S.QUEUED, S.RUNNING]}) and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        stop.set()
        for launcher in launchers:
            launcher.join(120)
    states = {doc.id: doc.run_state for doc in service.list_operations(paging={"limit": 1000})}
    assert set(states) == set(ids) and set(states.values()) == {S.COMPLETED}
    tallies = {row["_id"]: row["runs"] for row in db.tally.find()}
    assert tallies == {str(i): 1 for i in ids}  # none lost, none run twice
    assert all(service.get(i).attempt == 1 for i in ids[:20])
