"""A small real dataset model: enough for operators to do real work on samples.

The datasets are FiftyOne's: ``datasets`` holds FiftyOne's dataset documents and each dataset's
samples live in its collection ``samples.<id>``. A dataset FiftyOps creates is written in
FiftyOne's shape (``fiftyone_schema``: ``version``, ``sample_fields``, ...), its samples carry
FiftyOne's bookkeeping fields, and the top-level fields FiftyOps writes are declared, so FiftyOne
loads every dataset of a shared database; a dataset FiftyOne made is found here by name or id
like any other. Operations find their dataset by id first, so renaming a
dataset after queueing does not break them. Reading never writes (no index creation on load), so
a refused ``delegate()`` leaves the database exactly as it was.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from typing import Any

from bson import ObjectId
from pymongo import UpdateOne
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, OperationFailure

from fiftyops_provider.datasets.fiftyone_schema import dataset_document, new_field_documents, sample_document
from fiftyops_provider.plugins.errors import PluginError
from fiftyops_provider.store.documents import utcnow

DATASETS_COLLECTION = "datasets"
PRIVATE_FIELDS_HIDDEN = {"_dataset_id": 0, "_media_type": 0, "_rand": 0}


class DatasetNotFound(PluginError):
    pass


class Dataset:
    def __init__(self, db: Database, doc: Mapping[str, Any]) -> None:
        self._db = db
        self._doc = dict(doc)
        self.samples = db[self._doc["sample_collection_name"]]

    @property
    def id(self) -> str:
        return str(self._doc["_id"])

    @property
    def name(self) -> str:
        return self._doc["name"]

    def count(self) -> int:
        return self.samples.count_documents({})

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """The samples, without FiftyOne's private bookkeeping fields (``_rand``, ...)."""
        return iter(self.samples.find({}, PRIVATE_FIELDS_HIDDEN).sort("_id", 1))

    def __len__(self) -> int:
        return self.count()

    def add_samples(self, samples: list[Mapping[str, Any]]) -> list[str]:
        if not samples:
            return []
        now = utcnow()
        docs = [sample_document(self._doc["_id"], s, now) for s in samples]
        for doc in docs:
            self._declare_fields(doc)
        return [str(i) for i in self.samples.insert_many(docs).inserted_ids]

    def _declare_fields(self, values: Mapping[str, Any]) -> None:
        """Add the fields of ``values`` the dataset does not declare to its ``sample_fields``
        (each only if still missing, so concurrent writers never declare one twice)."""
        coll = self._db[DATASETS_COLLECTION]
        current = coll.find_one({"_id": self._doc["_id"]}, {"sample_fields.name": 1}) or {}
        for field in new_field_documents(current.get("sample_fields") or [], values, utcnow()):
            coll.update_one(
                {"_id": self._doc["_id"], "sample_fields.name": {"$ne": field["name"]}},
                {"$push": {"sample_fields": field}},
            )

    def set_field(self, sample_id: str | ObjectId, field: str, value: Any) -> None:
        self.set_values(field, {sample_id: value})

    def set_values(self, field: str, values: Mapping[str | ObjectId, Any]) -> None:
        """Set ``field`` on many samples in one round trip: ``{sample id: value}``."""
        if not field or field.startswith("$") or field == "_id":
            raise PluginError(f"Cannot set sample field {field!r}.")
        now = utcnow()
        ops = [
            UpdateOne({"_id": ObjectId(str(sid))}, {"$set": {field: value, "last_modified_at": now}})
            for sid, value in values.items()
        ]
        if ops:
            self._declare_fields({field: next((v for v in values.values() if v is not None), None)})
            self.samples.bulk_write(ops, ordered=False)

    def rename(self, new_name: str) -> None:
        coll = _collection(self._db)
        slug = _check_name(new_name)
        clash = coll.find_one({"slug": slug, "_id": {"$ne": self._doc["_id"]}}, {"name": 1})
        if clash is not None:
            raise PluginError(
                f"A dataset named {clash['name']!r} already exists (same slug {slug!r}); pick another name."
            )
        try:
            coll.update_one({"_id": self._doc["_id"]}, {"$set": {"name": new_name, "slug": slug}})
        except DuplicateKeyError:
            raise PluginError(f"A dataset named {new_name!r} already exists.") from None
        self._doc["name"] = new_name

    def delete(self) -> None:
        self.samples.drop()
        self._db[DATASETS_COLLECTION].delete_one({"_id": self._doc["_id"]})


def to_slug(name: str) -> str:
    """A URL-safe form of a dataset name, unique across datasets (like FiftyOne's ``slug``).

    ASCII letters and digits when the name has any; else its Unicode letters and digits (``日本``
    stays ``日本``); else, for a name of punctuation only, a digest of the name, so two different
    names never share a slug only because neither has an ASCII letter.
    """
    lowered = name.lower()
    return (
        re.sub(r"[^a-z0-9_]+", "-", lowered).strip("-")
        or re.sub(r"\W+", "-", lowered).strip("-_")
        or "dataset-" + hashlib.sha1(name.encode()).hexdigest()[:12]
    )


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > 256:
        raise PluginError("A dataset name must be a non-empty string of at most 256 characters.")
    return to_slug(name)


def _collection(db: Database):
    """The ``datasets`` collection with its unique name index (for writers only). An existing
    index with other options (created by FiftyOne) is left as it is."""
    coll = db[DATASETS_COLLECTION]
    try:
        coll.create_index("name", unique=True, name="name_1")
    except OperationFailure:
        pass
    return coll


def create_dataset(db: Database, name: str) -> Dataset:
    slug = _check_name(name)
    coll = _collection(db)
    clash = coll.find_one({"slug": slug}, {"name": 1})
    if clash is not None:
        raise PluginError(f"A dataset named {clash['name']!r} already exists (same slug {slug!r}); pick another name.")
    doc = dataset_document(ObjectId(), name, slug, utcnow())
    try:
        coll.insert_one(doc)
    except DuplicateKeyError:
        raise PluginError(f"A dataset named {name!r} already exists.") from None
    return Dataset(db, doc)


def load_dataset(db: Database, dataset_id: str | ObjectId | None, dataset_name: str | None) -> Dataset:
    """By id first (survives renames), then by name. Read-only."""
    coll = db[DATASETS_COLLECTION]
    doc = None
    if dataset_id is not None and ObjectId.is_valid(str(dataset_id)):
        doc = coll.find_one({"_id": ObjectId(str(dataset_id))})
    if doc is None and dataset_name:
        doc = coll.find_one({"name": dataset_name})
    if doc is None:
        raise DatasetNotFound(f"Dataset {dataset_name or dataset_id!r} does not exist; create it first.")
    return Dataset(db, doc)


def list_datasets(db: Database) -> list[Dataset]:
    return [Dataset(db, doc) for doc in db[DATASETS_COLLECTION].find({}).sort("name", 1)]
