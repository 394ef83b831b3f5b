"""Dataset and sample documents in FiftyOne's shape, so every dataset FiftyOps writes is one
FiftyOne loads (a database shared with FiftyOne holds one set of datasets: FiftyOne's).

The shape is FiftyOne 1.22's (``version``): an image dataset, its default sample fields, and a
field entry for each top-level field FiftyOps samples carry. FiftyOne migrates documents of an
older ``version`` itself, so a newer FiftyOne loads these too.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bson import ObjectId

FIFTYONE_VERSION = "1.22.1"
MEDIA_TYPE = "image"
_FIELDS = "fiftyone.core.fields."
# Python type -> FiftyOne field type of a top-level sample value (others are not declared: FiftyOne
# then ignores the value, and still loads the dataset).
FIELD_TYPES: dict[type, str] = {
    bool: "BooleanField",
    int: "IntField",
    float: "FloatField",
    str: "StringField",
    datetime: "DateTimeField",
    ObjectId: "ObjectIdField",
    dict: "DictField",
    list: "ListField",
}


def field_document(
    name: str,
    ftype: str,
    now: datetime,
    db_field: str | None = None,
    read_only: bool = False,
    subfield: str | None = None,
    embedded_doc_type: str | None = None,
    fields: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One entry of a dataset's ``sample_fields``."""
    return {
        "name": name,
        "ftype": _FIELDS + ftype,
        "embedded_doc_type": embedded_doc_type,
        "subfield": _FIELDS + subfield if subfield else None,
        "fields": fields or [],
        "db_field": name if db_field is None else db_field,
        "description": None,
        "info": None,
        "read_only": read_only,
        "created_at": now,
    }


def default_sample_fields(now: datetime) -> list[dict[str, Any]]:
    """The fields every FiftyOne image dataset declares."""
    metadata = [field_document("size_bytes", "IntField", now), field_document("mime_type", "StringField", now)]
    return [
        field_document("id", "ObjectIdField", now, db_field="_id"),
        field_document("filepath", "StringField", now),
        field_document("tags", "ListField", now, subfield="StringField"),
        field_document(
            "metadata",
            "EmbeddedDocumentField",
            now,
            embedded_doc_type="fiftyone.core.metadata.Metadata",
            fields=metadata,
        ),
        field_document("created_at", "DateTimeField", now, read_only=True),
        field_document("last_modified_at", "DateTimeField", now, read_only=True),
        field_document("_dataset_id", "ObjectIdField", now),
        field_document("_media_type", "StringField", now),
        field_document("_rand", "FloatField", now),
    ]


def dataset_document(oid: ObjectId, name: str, slug: str, now: datetime) -> dict[str, Any]:
    """A new, empty, persistent image dataset, as FiftyOne 1.22 writes one."""
    return {
        "_id": oid,
        "name": name,
        "slug": slug,
        "version": FIFTYONE_VERSION,
        "created_at": now,
        "last_modified_at": now,
        "last_deletion_at": None,
        "last_loaded_at": None,
        "sample_collection_name": f"samples.{oid}",
        "persistent": True,
        "media_type": MEDIA_TYPE,
        "_media_roots": [],
        "_media_sources": [],
        "_media_source_layouts": [],
        "group_media_types": {},
        "tags": [],
        "info": {},
        "app_config": {
            "dynamic_groups_target_frame_rate": 30,
            "grid_media_field": "filepath",
            "media_fallback": False,
            "media_fields": ["filepath"],
            "modal_media_field": "filepath",
            "plugins": {},
        },
        "classes": {},
        "default_classes": [],
        "mask_targets": {},
        "default_mask_targets": {},
        "skeletons": {},
        "camera_intrinsics": {},
        "static_transforms": {},
        "sample_fields": default_sample_fields(now),
        "frame_fields": [],
        "saved_views": [],
        "workspaces": [],
        "annotation_runs": {},
        "brain_methods": {},
        "evaluations": {},
        "runs": {},
        "active_label_schemas": [],
        "label_schemas": {},
        "frame_label_schemas": {},
    }


def sample_document(dataset_id: ObjectId, sample: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """A sample with FiftyOne's bookkeeping fields; the caller's fields win (but not ``_id``)."""
    return {
        "filepath": None,
        "tags": [],
        "_media_type": MEDIA_TYPE,
        "_rand": random.random(),
        "_dataset_id": dataset_id,
        "created_at": now,
        "last_modified_at": now,
        **{k: v for k, v in sample.items() if k != "_id"},
    }


def new_field_documents(
    declared: list[Mapping[str, Any]], values: Mapping[str, Any], now: datetime
) -> list[dict[str, Any]]:
    """Entries for the top-level fields of ``values`` the dataset does not declare yet (``None``
    values and types FiftyOne has no simple field for are left undeclared)."""
    known = {field["name"] for field in declared} | {"_id"}
    new = []
    for name, value in values.items():
        ftype = FIELD_TYPES.get(type(value))
        if name in known or ftype is None or name.startswith("_") or "." in name:
            continue
        known.add(name)
        new.append(field_document(name, ftype, now))
    return new
