"""Operation logs kept in MongoDB, so any machine can show the log of a run that ran on another one.

An Airflow worker writes the operation's output to a file on its own disk (``FIFTYOPS_LOG_PATH``)
and Airflow's task log (``log_path``) to its own log folder. Neither is readable where the Run page
or ``fiftyops delegated logs`` runs when those are separate machines. At the end of every attempt
the executor ships the whole capture file here, before it writes the attempt's outcome; readers
fall back to it when ``log_path`` is not on their disk. While a run is going on, readers elsewhere
see the live ``log_tail`` of the document.

A short log, whose last lines (``log_tail``, written with the outcome) are the whole of it, is
not stored again (``tail_is_whole_log``). A longer one, up to ``INLINE_MAX_BYTES``, is one
document of its own collection: one write at the end of a run. GridFS, which holds the bigger
ones (and every log stored before 0.3.1), costs five round trips per upload (its two index
checks, a chunk, the file document, the look for older copies), each write acknowledged by a
majority of the replica set.
"""

from __future__ import annotations

import gridfs
from bson import Binary
from pymongo.database import Database

BUCKET = "fiftyops_operation_logs"
INLINE_COLLECTION = "fiftyops_operation_log_documents"
# A log up to this size is one document (MongoDB's limit is 16 MiB); a bigger one goes to GridFS.
INLINE_MAX_BYTES = 8 * 1024 * 1024
# The newest bytes of a log bigger than this are kept (a runaway operator must not fill MongoDB).
MAX_ARCHIVED_BYTES = 64 * 1024 * 1024


def tail_is_whole_log(log_tail: str | None, log_size: int | None) -> bool:
    """Whether ``log_tail`` (the log's last lines, joined by newlines) is the whole log file of
    ``log_size`` bytes (each line ends with a newline)."""
    return log_tail is not None and log_size == len(log_tail.encode("utf-8", "replace")) + 1


class OperationLogArchive:
    """One stored log per operation, named by its id; a later attempt's upload replaces it."""

    def __init__(self, db: Database) -> None:
        self.documents = db[INLINE_COLLECTION]
        self.bucket = gridfs.GridFSBucket(db, bucket_name=BUCKET)
        self.files = db[f"{BUCKET}.files"]

    def put(self, operation_id: str, data: bytes) -> None:
        """Store ``data`` (its last ``MAX_ARCHIVED_BYTES``) as the operation's log. Readers always
        find one whole copy: a later attempt's log (the file holds every attempt, so it only
        grows) replaces the document, or goes to GridFS before the older copies are dropped."""
        data = data[-MAX_ARCHIVED_BYTES:]
        if len(data) <= INLINE_MAX_BYTES:
            self.documents.replace_one({"_id": operation_id}, {"data": Binary(data)}, upsert=True)
            return
        new_id = self.bucket.upload_from_stream(operation_id, data)
        self.documents.delete_one({"_id": operation_id})
        self._drop_files({"filename": operation_id, "_id": {"$ne": new_id}})

    def get(self, operation_id: str) -> bytes | None:
        """The newest stored log of the operation, or None."""
        document = self.documents.find_one({"_id": operation_id})
        if document is not None:
            return bytes(document["data"])
        try:
            return self.bucket.open_download_stream_by_name(operation_id).read()
        except gridfs.errors.NoFile:
            return None

    def delete(self, operation_ids: list[str]) -> None:
        """Drop the stored logs of these operations (they were deleted)."""
        if not operation_ids:
            return
        self.documents.delete_many({"_id": {"$in": operation_ids}})
        self._drop_files({"filename": {"$in": operation_ids}})

    def _drop_files(self, query: dict[str, object]) -> None:
        for old in self.files.find(query, {"_id": 1}):
            try:
                self.bucket.delete(old["_id"])
            except gridfs.errors.NoFile:  # dropped concurrently by another attempt's upload
                pass
