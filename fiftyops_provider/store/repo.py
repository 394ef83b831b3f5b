"""MongoDB access for operation documents: queries, atomic transitions, indexes.

Every run-state change is one ``find_one_and_update`` whose filter names the states it may come
from, so concurrent writers can never both win a transition (compare-and-set).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.collection import Collection
from pymongo.database import Database

from fiftyops_provider.store.documents import COLLECTION_NAME, DelegatedOperationDocument, utcnow
from fiftyops_provider.store.states import ExecutionRunState

S = ExecutionRunState

# FiftyOne creates these by name; same names and key specs, or FiftyOne fails with error 85.
FIFTYONE_INDEXES = [
    IndexModel([("operator", ASCENDING)], name="operator_1"),
    IndexModel([("updated_at", ASCENDING)], name="updated_at_1"),
    IndexModel([("run_state", ASCENDING)], name="run_state_1"),
    IndexModel([("parent_id", ASCENDING)], name="parent_id_1"),
    IndexModel(
        [("dataset_id", ASCENDING), ("parent_id", ASCENDING), ("scheduled_at", DESCENDING)],
        name="dataset_id_1_parent_id_1_scheduled_at_1",
    ),
]
# FiftyOps' own, each with a key pattern FiftyOne does not use.
FIFTYOPS_INDEXES = [
    # FIFO pick-up and admission sort by time, then _id: the index must hold _id too, or every
    # pick-up sorts all queued operations in memory (10x slower with 100k queued, ties included).
    IndexModel([("run_state", ASCENDING), ("queued_at", ASCENDING), ("_id", ASCENDING)], name="fiftyops_pickup_order"),
    IndexModel(
        [("run_state", ASCENDING), ("scheduled_at", ASCENDING), ("_id", ASCENDING)], name="fiftyops_admit_order"
    ),
    IndexModel([("run_state", ASCENDING), ("_id", DESCENDING)], name="fiftyops_state_recent"),
    IndexModel([("queued_by", ASCENDING), ("_id", DESCENDING)], name="fiftyops_user_recent"),
    IndexModel([("operator", ASCENDING), ("_id", ASCENDING)], name="fiftyops_operator_order"),
    IndexModel([("updated_at", ASCENDING), ("_id", ASCENDING)], name="fiftyops_updated_order"),
    IndexModel([("pinned", ASCENDING), ("_id", DESCENDING)], name="fiftyops_pinned_recent"),
    IndexModel(
        [("context.request_params.dataset_name", ASCENDING), ("_id", DESCENDING)], name="fiftyops_dataset_recent"
    ),
]

# The timestamp each state sets when entered (FiftyOne's update_run_state rules).
STATE_TIMESTAMP = {
    S.SCHEDULED: "scheduled_at",
    S.QUEUED: "queued_at",
    S.RUNNING: "started_at",
    S.COMPLETED: "completed_at",
    S.FAILED: "failed_at",
}


class MongoDelegatedOperationRepo:
    """The ``delegated_ops`` collection."""

    def __init__(self, db: Database, collection_name: str = COLLECTION_NAME) -> None:
        self.db = db
        self.collection: Collection = db[collection_name]
        self._create_indexes()

    def _create_indexes(self) -> None:
        existing = set(self.collection.index_information())
        missing = [index for index in FIFTYONE_INDEXES + FIFTYOPS_INDEXES if index.document["name"] not in existing]
        if missing:
            self.collection.create_indexes(missing)

    # -- reads ---------------------------------------------------------------------------------
    def get(self, doc_id: ObjectId) -> DelegatedOperationDocument | None:
        raw = self.collection.find_one({"_id": doc_id})
        return DelegatedOperationDocument.from_pymongo(raw) if raw else None

    def find(
        self, query: Mapping[str, Any], sort: list[tuple[str, int]], skip: int = 0, limit: int = 0
    ) -> list[DelegatedOperationDocument]:
        cursor = self.collection.find(dict(query)).sort(sort).skip(skip).limit(limit)
        return [DelegatedOperationDocument.from_pymongo(raw) for raw in cursor]

    def count(self, query: Mapping[str, Any], limit: int = 0) -> int:
        """Matching documents; with ``limit``, counting stops there (bounded cost on big collections)."""
        if limit:
            return self.collection.count_documents(dict(query), limit=limit)
        return self.collection.count_documents(dict(query))

    # -- writes --------------------------------------------------------------------------------
    def insert(self, doc: DelegatedOperationDocument) -> DelegatedOperationDocument:
        doc.id = self.collection.insert_one(doc.to_pymongo()).inserted_id
        return doc

    def update(
        self,
        query: Mapping[str, Any],
        set_fields: Mapping[str, Any] | None = None,
        inc: Mapping[str, Any] | None = None,
        unset: Iterable[str] = (),
        sort: list[tuple[str, int]] | None = None,
    ) -> DelegatedOperationDocument | None:
        """Atomically update the first matching document; None when nothing matched."""
        update: dict[str, Any] = {}
        if set_fields:
            update["$set"] = dict(set_fields)
        if inc:
            update["$inc"] = dict(inc)
        if unset:
            update["$unset"] = {name: "" for name in unset}
        raw = self.collection.find_one_and_update(dict(query), update, sort=sort, return_document=ReturnDocument.AFTER)
        return DelegatedOperationDocument.from_pymongo(raw) if raw else None

    def update_many(self, query: Mapping[str, Any], set_fields: Mapping[str, Any]) -> int:
        """Set ``set_fields`` on every matching document (each one atomically); how many changed."""
        return self.collection.update_many(dict(query), {"$set": dict(set_fields)}).modified_count

    def transition(
        self,
        query: Mapping[str, Any],
        target: ExecutionRunState,
        sources: Iterable[ExecutionRunState],
        set_fields: Mapping[str, Any] | None = None,
        inc: Mapping[str, Any] | None = None,
        sort: list[tuple[str, int]] | None = None,
    ) -> DelegatedOperationDocument | None:
        """Move the first document matching ``query`` and in one of ``sources`` to ``target``."""
        now = utcnow()
        fields = {"run_state": target.value, STATE_TIMESTAMP[target]: now, "updated_at": now}
        fields.update(set_fields or {})
        filter_ = {**query, "run_state": {"$in": [s.value for s in sources]}}
        return self.update(filter_, fields, inc=inc, sort=sort)

    def add_child_error(self, parent_id: ObjectId, child_id: ObjectId, error: str) -> None:
        """Set ``pipeline_run_info.child_errors.<child_id>`` on a pipeline parent, in one update
        that also works when ``pipeline_run_info`` or ``child_errors`` is missing or null (FiftyOne's
        ``PipelineRunInfo`` defaults ``child_errors`` to null, where a dotted ``$set`` fails)."""
        info = {"$ifNull": ["$pipeline_run_info", {}]}
        errors = {"$ifNull": ["$pipeline_run_info.child_errors", {}]}
        merged = {"$mergeObjects": [info, {"child_errors": {"$mergeObjects": [errors, {str(child_id): error}]}}]}
        self.collection.update_one({"_id": parent_id}, [{"$set": {"pipeline_run_info": merged}}])

    def delete(self, query: Mapping[str, Any]) -> DelegatedOperationDocument | None:
        raw = self.collection.find_one_and_delete(dict(query))
        return DelegatedOperationDocument.from_pymongo(raw) if raw else None

    def delete_many(self, query: Mapping[str, Any]) -> int:
        return self.collection.delete_many(dict(query)).deleted_count
