"""Exactly-once at scale: 10,000 queued operations drained by 8 concurrent claimer processes.

Each claimer makes the calls a dispatcher and an executor make (pick up, claim queued -> running
by compare-and-set with a claim token, complete with that token), and now and then grabs the
oldest queued operation without picking it up, like a dispatcher with a stale view. The
"operator" adds 1 to its row in a separate tally collection, so a duplicate run would show even
if the store looked fine. (Running 10,000 child processes would take most of an hour here; the
full executor, child process included, is soaked with 8 launchers in test_launcher_soak.py.)
"""

from __future__ import annotations

from collections import Counter

from tests.reliability.claimers import TALLY, queue_operations, run_claimers

OPERATIONS = 10_000
CLAIMERS = 8


def test_ten_thousand_operations_run_exactly_once_with_eight_claimers(operations, db, mongod):
    queue_operations(db, OPERATIONS)
    _, reports = run_claimers(mongod.uri, db.name, CLAIMERS, complete=True)

    claimed = Counter(doc_id for report in reports for doc_id in report.claimed)
    assert len(claimed) == OPERATIONS and set(claimed.values()) == {1}  # every one claimed, none twice
    tallies = Counter({str(row["_id"]): row["runs"] for row in db[TALLY].find()})
    assert tallies == Counter(dict.fromkeys(claimed, 1))  # every one ran, none twice
    assert operations.count_documents({"run_state": "completed", "attempt": 1}) == OPERATIONS
    assert sum(1 for report in reports if report.claimed) == CLAIMERS  # all eight took part
    assert sum(report.lost_races for report in reports) > 0  # and they did race for the same operations
