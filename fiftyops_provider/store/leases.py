"""Short named leases in MongoDB, so that one process at a time does a step that must not race
(admitting scheduled operations against the execution quota)."""

from __future__ import annotations

from datetime import timedelta

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from fiftyops_provider.store.documents import utcnow

LEASES_COLLECTION = "fiftyops_leases"


class Lease:
    """``with Lease(db, "admission", holder) as held:`` -- ``held`` is False when another holder has it.

    A lease expires after ``ttl`` so a crashed holder never blocks the others for long.
    """

    def __init__(self, db: Database, name: str, holder: str, ttl: timedelta = timedelta(seconds=30)) -> None:
        self.collection = db[LEASES_COLLECTION]
        self.name = name
        self.holder = holder
        self.ttl = ttl
        self.held = False

    def acquire(self) -> bool:
        now = utcnow()
        try:
            self.collection.update_one(
                {"_id": self.name, "$or": [{"expires_at": {"$lt": now}}, {"holder": self.holder}]},
                {"$set": {"holder": self.holder, "expires_at": now + self.ttl}},
                upsert=True,
            )
        except DuplicateKeyError:  # the lease exists, unexpired, with another holder
            return False
        self.held = True
        return True

    def release(self) -> None:
        if self.held:
            self.collection.delete_one({"_id": self.name, "holder": self.holder})
            self.held = False

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
