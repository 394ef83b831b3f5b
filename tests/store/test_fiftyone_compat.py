"""Documents are interchangeable with FiftyOne's ``delegated_ops`` (fiftyone 1.22 field set)."""

from __future__ import annotations

from datetime import datetime

from bson import ObjectId

from fiftyops_provider.store import ExecutionRunState as S

# What FiftyOne 1.22's DelegatedOperationDocument.to_pymongo() writes for a queued OSS operation.
FIFTYONE_DOC = {
    "operator": "@voxel51/io/export_samples",
    "label": "Export samples",
    "delegation_target": None,
    "context": {
        "request_params": {
            "dataset_name": "quickstart",
            "dataset_id": "64b7f0c2a1b2c3d4e5f60718",
            "params": {"format": "csv"},
            "view": [],
            "delegated": True,
        }
    },
    "run_state": "queued",
    "queued_at": datetime(2026, 11, 1, 12, 0, 0),
    "scheduled_at": None,
    "started_at": None,
    "completed_at": None,
    "failed_at": None,
    "updated_at": datetime(2026, 11, 1, 12, 0, 0),
    "status": None,
    "result": None,
    "metadata": {"inputs_schema": None, "outputs_schema": None},
    "dataset_id": ObjectId("64b7f0c2a1b2c3d4e5f60718"),
    "pinned": False,
    "run_link": None,
    "log_path": None,
    "log_size": None,
    "log_tail": None,
    "log_upload_error": None,
    "monitored": False,
    "archived": False,
    "rerunnable": True,
    "parent_id": None,
}

FIFTYONE_INDEXES = {
    "operator_1": [("operator", 1)],
    "updated_at_1": [("updated_at", 1)],
    "run_state_1": [("run_state", 1)],
    "parent_id_1": [("parent_id", 1)],
    "dataset_id_1_parent_id_1_scheduled_at_1": [("dataset_id", 1), ("parent_id", 1), ("scheduled_at", -1)],
}


def test_a_fiftyone_document_is_read_listed_and_run(service, operations):
    doc_id = operations.insert_one(dict(FIFTYONE_DOC)).inserted_id
    doc = service.get(doc_id)
    assert doc.run_state is S.QUEUED and doc.dataset_name == "quickstart" and doc.params == {"format": "csv"}
    assert [d.id for d in service.get_queued_operations(dataset_name="quickstart")] == [doc_id]
    service.set_running(doc_id, required_state="queued")
    done = service.set_completed(doc_id, result={"exported": 10}, required_state="running")
    assert done.result.result == {"exported": 10}
    raw = operations.find_one({"_id": doc_id})
    assert raw["context"] == FIFTYONE_DOC["context"]  # our updates leave FiftyOne's fields as they were


def test_our_documents_have_fiftyone_fields_with_fiftyone_types(service, operations):
    ours = service.queue_operation(
        "@fiftyops/io/export",
        context={"request_params": {"dataset_name": "quickstart", "dataset_id": str(ObjectId()), "params": {}}},
        initial_state="queued",
    )
    raw = operations.find_one({"_id": ours.id})
    assert set(FIFTYONE_DOC) <= set(raw)
    for key, value in FIFTYONE_DOC.items():
        if value is None:
            continue
        assert isinstance(raw[key], type(value)), key
    assert isinstance(raw["_id"], ObjectId)
    assert raw["run_state"] == "queued"
    assert raw["queued_at"].tzinfo is None  # naive UTC, as FiftyOne writes
    assert "pipeline" not in raw and "pipeline_run_info" not in raw


def test_fiftyone_index_names_and_keys(service, operations):
    info = operations.index_information()
    for name, keys in FIFTYONE_INDEXES.items():
        assert [(k, int(d)) for k, d in info[name]["key"]] == keys
    ours = [tuple(v["key"]) for n, v in info.items() if n not in FIFTYONE_INDEXES]
    fiftyone_keys = [tuple((k, float(d)) for k, d in keys) for keys in FIFTYONE_INDEXES.values()]
    assert not set(ours) & set(fiftyone_keys), "an extra index reuses a FiftyOne key pattern under another name"


def test_no_config_collection_is_created(service, db):
    service.queue_operation("@o/p/op")
    assert "config" not in db.list_collection_names()
