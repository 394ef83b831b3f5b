"""The store's schema version: which layout the database holds, recorded in the database itself
(collection ``fiftyops_meta``, document ``store_schema``), and the upgrade to this release's.

Every component opens the store through ``DelegatedOperationService``, whose repository calls
``ensure_schema``: a store written by an earlier release is upgraded in place the first time the
new release opens it, and is left as it is afterwards. A store recorded by a newer release than
this one is refused with an error that says to upgrade, before anything is written.

Versions:

- **0** (no record): FiftyOps up to 2026-12-02. The oldest stores also carry the pick-up indexes
  under their first names (``fiftyops_claim_order``, ``fiftyops_admission_order``, without
  ``_id``).
- **1**: the version is recorded; FiftyOps' indexes as ``store.indexes`` lists them.

Documents need no rewrite: an operation document is read field by field with a default for each
missing field (documents written by FiftyOne or by an earlier release lack FiftyOps' newer
fields), and a field is written only when an operation changes state.
"""

from __future__ import annotations

import logging

from pymongo.collection import Collection
from pymongo.database import Database

from fiftyops_provider.store.documents import utcnow
from fiftyops_provider.store.errors import StoreError
from fiftyops_provider.store.indexes import ensure_indexes

logger = logging.getLogger(__name__)

META_COLLECTION = "fiftyops_meta"
SCHEMA_RECORD = "store_schema"
SCHEMA_VERSION = 1


class StoreSchemaTooNew(StoreError):
    """The store was written by a newer FiftyOps than this one."""


def recorded_version(db: Database) -> int:
    """The schema version recorded in ``db``; 0 when none is (a store of a release before 1).

    :param db: the FiftyOps database.
    """
    record = db[META_COLLECTION].find_one({"_id": SCHEMA_RECORD})
    return int(record["version"]) if record else 0


def ensure_schema(db: Database, operations: Collection) -> None:
    """Upgrade the store in ``db`` to ``SCHEMA_VERSION`` if it is older, then record the version.
    Idempotent, and safe when several processes open the store at once.

    :param db: the FiftyOps database.
    :param operations: its operations collection (``delegated_ops``).
    :raises StoreSchemaTooNew: the store is newer than this release; nothing was changed.
    """
    found = recorded_version(db)
    if found > SCHEMA_VERSION:
        raise StoreSchemaTooNew(
            f"The FiftyOps store in database {db.name!r} has schema version {found}, written by a newer "
            f"FiftyOps; this one knows versions up to {SCHEMA_VERSION}. Upgrade FiftyOps here (every "
            "component using this database runs the same release), or point it at another database."
        )
    if found == SCHEMA_VERSION:
        # Upgraded before: one read, as cheap as the index check it replaces (every operation
        # task opens the store as it starts).
        return
    changes = ensure_indexes(operations)
    db[META_COLLECTION].update_one(
        {"_id": SCHEMA_RECORD},
        {"$max": {"version": SCHEMA_VERSION}, "$set": {"upgraded_at": utcnow(), "upgraded_from": found}},
        upsert=True,
    )
    logger.info("FiftyOps store %s: schema %d -> %d; %s", db.name, found, SCHEMA_VERSION, ", ".join(changes))
