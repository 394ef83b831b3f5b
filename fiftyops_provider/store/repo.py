"""MongoDB access for operation documents: queries and atomic transitions. Opening it brings
the store to this release's schema (``store.schema``).

Every run-state change is one ``find_one_and_update`` whose filter names the states it may come
from, so concurrent writers can never both win a transition (compare-and-set).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.collection import Collection
from pymongo.database import Database

from fiftyops_provider.store.documents import COLLECTION_NAME, DelegatedOperationDocument, utcnow
from fiftyops_provider.store.schema import ensure_schema
from fiftyops_provider.store.states import ExecutionRunState

S = ExecutionRunState

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
        ensure_schema(db, self.collection)

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
        current_date: Iterable[str] = (),
    ) -> DelegatedOperationDocument | None:
        """Atomically update the first matching document; None when nothing matched.
        ``current_date``: fields set to the server's clock at the moment the write lands."""
        update: dict[str, Any] = {}
        if set_fields:
            update["$set"] = dict(set_fields)
        if current_date:
            update["$currentDate"] = {name: True for name in current_date}
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

    def delete_many(self, query: Mapping[str, Any], batch: int = 1000) -> tuple[int, list[ObjectId]]:
        """Delete what matches ``query``, a batch at a time: (how many this call deleted, the
        ids now gone), so the caller can drop what belongs to them (their stored logs)."""
        deleted, gone = 0, []
        while ids := [raw["_id"] for raw in self.collection.find(dict(query), {"_id": 1}).limit(batch)]:
            deleted += self.collection.delete_many({"$and": [dict(query), {"_id": {"$in": ids}}]}).deleted_count
            left = {raw["_id"] for raw in self.collection.find({"_id": {"$in": ids}}, {"_id": 1})}
            gone += [doc_id for doc_id in ids if doc_id not in left]
        return deleted, gone
