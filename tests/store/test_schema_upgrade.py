"""A store written by the previous release keeps working after an upgrade, the upgrade is
recorded and idempotent, and a store newer than this release is refused with nothing changed.

``fixtures/store_2026-12-02.json`` is a dump (MongoDB extended JSON: every collection's documents
and index specs) of a store written by FiftyOps as of ``main`` at a78ff45 (2026-12-02, the release
before schema versions): the example plugins installed, the demo dataset, a user with a dataset
grant, and the demo's five operations left completed (pinned), running (with progress), queued,
failed and scheduled by that release's own service.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from bson import json_util
from pymongo import ASCENDING

from fiftyops_provider.access.users import UserStore
from fiftyops_provider.cli.main import main
from fiftyops_provider.datasets.catalog import load_dataset
from fiftyops_provider.store import SCHEMA_VERSION, DelegatedOperationService, StoreSchemaTooNew
from fiftyops_provider.store import ExecutionRunState as S
from fiftyops_provider.store.indexes import FIFTYONE_INDEXES, FIFTYOPS_INDEXES
from fiftyops_provider.store.schema import META_COLLECTION, SCHEMA_RECORD

RELEASE_STORE = Path(__file__).parent / "fixtures" / "store_2026-12-02.json"
CURRENT_INDEXES = {"_id_"} | {index.document["name"] for index in FIFTYONE_INDEXES + FIFTYOPS_INDEXES}


def load_release_store(db) -> None:
    for name, dump in json_util.loads(RELEASE_STORE.read_text()).items():
        if dump["documents"]:
            db[name].insert_many(dump["documents"])
        for index in dump["indexes"]:
            db[name].create_index([tuple(pair) for pair in index.pop("key")], **index)


def snapshot(db) -> dict:
    """Every collection of the database: its documents and its indexes."""
    return {
        name: (list(db[name].find({}).sort("_id")), db[name].index_information())
        for name in sorted(db.list_collection_names())
    }


def open_service(db) -> DelegatedOperationService:
    return DelegatedOperationService(db)


def test_the_previous_release_store_is_upgraded_and_keeps_working(db):
    load_release_store(db)
    assert META_COLLECTION not in db.list_collection_names()
    service = open_service(db)
    record = db[META_COLLECTION].find_one({"_id": SCHEMA_RECORD})
    assert record["version"] == SCHEMA_VERSION and record["upgraded_from"] == 0
    assert set(db.delegated_ops.index_information()) == CURRENT_INDEXES

    by_label = {doc.label: doc for doc in service.list_operations()}
    assert {label: doc.run_state for label, doc in by_label.items()} == {
        "Count samples": S.COMPLETED,
        "Sleep": S.RUNNING,
        "Compute name_length": S.QUEUED,
        "Fail on purpose": S.FAILED,
        "Measure and export": S.SCHEDULED,
    }
    assert by_label["Count samples"].pinned and by_label["Count samples"].run_link.startswith("http://airflow/")
    assert by_label["Sleep"].status.progress == 0.5 and by_label["Fail on purpose"].result.error_message
    # The old operations move on with this release's service, and new ones queue beside them.
    picked = service.pick_up_queued_operations("upgrade-test", limit=10)
    assert [doc.label for doc in picked] == ["Compute name_length"]
    claimed = service.set_running(picked[0].id)
    assert service.set_completed(claimed.id, result={"ok": True}).run_state == S.COMPLETED
    assert [doc.label for doc in service.admit_scheduled_operations(quota=10)] == ["Measure and export"]
    queued = service.queue_operation("@fiftyops/utils/count_samples", label="After the upgrade")
    assert service.count() == 6 and service.get(queued.id).attempt == 0
    # The rest of the store as before.
    assert load_dataset(db, None, "fiftyops-demo").count() == 500
    olga = UserStore(db).get("olga")
    assert olga.role.name == "MEMBER" and [p.name for p in olga.datasets.values()] == ["EDIT"]


def test_opening_the_upgraded_store_again_changes_nothing(db):
    load_release_store(db)
    open_service(db)
    upgraded = snapshot(db)
    open_service(db)
    assert snapshot(db) == upgraded


def test_indexes_of_an_older_release_are_renamed_and_rebuilt(db):
    """Stores from before 2026-11-22 have the pick-up indexes under their first names and keys."""
    load_release_store(db)
    operations = db.delegated_ops
    operations.drop_index("fiftyops_pickup_order")
    operations.drop_index("fiftyops_admit_order")
    operations.create_index([("run_state", ASCENDING), ("queued_at", ASCENDING)], name="fiftyops_claim_order")
    operations.create_index([("run_state", ASCENDING), ("scheduled_at", ASCENDING)], name="fiftyops_admission_order")
    open_service(db)
    info = operations.index_information()
    assert set(info) == CURRENT_INDEXES
    assert info["fiftyops_pickup_order"]["key"] == [("run_state", 1), ("queued_at", 1), ("_id", 1)]


def test_an_index_of_ours_with_outdated_keys_is_rebuilt(db):
    load_release_store(db)
    operations = db.delegated_ops
    operations.drop_index("fiftyops_pickup_order")
    operations.create_index([("run_state", ASCENDING), ("queued_at", ASCENDING)], name="fiftyops_pickup_order")
    open_service(db)
    assert operations.index_information()["fiftyops_pickup_order"]["key"] == [
        ("run_state", 1),
        ("queued_at", 1),
        ("_id", 1),
    ]


def test_a_store_of_a_newer_release_is_refused_and_left_as_it_is(db, capsys, monkeypatch):
    load_release_store(db)
    open_service(db)
    db[META_COLLECTION].update_one({"_id": SCHEMA_RECORD}, {"$set": {"version": SCHEMA_VERSION + 1}})
    db.delegated_ops.drop_index("fiftyops_pinned_recent")  # as if the newer release had dropped it
    before = snapshot(db)
    with pytest.raises(StoreSchemaTooNew, match=f"schema version {SCHEMA_VERSION + 1}.*Upgrade FiftyOps"):
        open_service(db)
    monkeypatch.setenv("FIFTYOPS_USER", "olga")
    assert main(["delegated", "list"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("error: The FiftyOps store") and error.count("\n") == 1
    assert snapshot(db) == before
