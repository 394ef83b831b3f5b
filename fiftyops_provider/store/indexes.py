"""The indexes of the ``delegated_ops`` collection, and bringing an existing collection to them.

FiftyOne creates its indexes by name, so those keep FiftyOne's names and key specs (an index of
the same name with other keys makes FiftyOne fail with error 85); they are created when missing and
otherwise left as they are. FiftyOps owns every index whose name starts with ``fiftyops_``: one
with an outdated key spec is rebuilt, one no longer listed (an earlier release's name) is dropped.
Running it again changes nothing.
"""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.collection import Collection
from pymongo.errors import OperationFailure

FIFTYOPS_PREFIX = "fiftyops_"
INDEX_NOT_FOUND = 27

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


def _keys(spec: Any) -> tuple[tuple[str, Any], ...]:
    """A key spec as comparable pairs (the server reports 1.0 where the model says 1)."""
    return tuple((field, int(direction) if isinstance(direction, float) else direction) for field, direction in spec)


def ensure_indexes(collection: Collection) -> list[str]:
    """Bring ``collection``'s indexes to the lists above; returns what it changed (for the log).
    Safe when several processes do it at once: each step is idempotent on the server.

    :param collection: the operations collection (``delegated_ops``).
    """
    existing = {name: _keys(info["key"]) for name, info in collection.index_information().items()}
    wanted = {index.document["name"]: _keys(index.document["key"].items()) for index in FIFTYOPS_INDEXES}
    changes = []
    for name, keys in list(existing.items()):
        if name.startswith(FIFTYOPS_PREFIX) and wanted.get(name) != keys:
            try:
                collection.drop_index(name)  # an earlier release's name or key spec
            except OperationFailure as exc:
                if exc.code != INDEX_NOT_FOUND:  # another process dropped it first
                    raise
            del existing[name]
            changes.append(f"dropped {name}")
    # An index of the same keys under another name (someone else's) serves as well; creating ours
    # beside it would fail (IndexOptionsConflict).
    missing = [
        index
        for index in FIFTYONE_INDEXES + FIFTYOPS_INDEXES
        if index.document["name"] not in existing and _keys(index.document["key"].items()) not in existing.values()
    ]
    if missing:
        collection.create_indexes(missing)
        changes += [f"created {index.document['name']}" for index in missing]
    return changes
