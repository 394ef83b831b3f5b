"""Operation logs kept in MongoDB (GridFS), so any machine can show the log of a run that ran on
another one.

An Airflow worker writes the operation's output to a file on its own disk (``FIFTYOPS_LOG_PATH``)
and Airflow's task log (``log_path``) to its own log folder. Neither is readable where the Run page
or ``fiftyops delegated logs`` runs when those are separate machines. At the end of every attempt
the executor ships the whole capture file here, before it writes the attempt's outcome; readers
fall back to it when ``log_path`` is not on their disk. While a run is going on, readers elsewhere
see the live ``log_tail`` of the document.
"""

from __future__ import annotations

import gridfs
from pymongo.database import Database

BUCKET = "fiftyops_operation_logs"
# The newest bytes of a log bigger than this are kept (a runaway operator must not fill MongoDB).
MAX_ARCHIVED_BYTES = 64 * 1024 * 1024


class OperationLogArchive:
    """One stored log per operation, named by its id; a later attempt's upload replaces it."""

    def __init__(self, db: Database) -> None:
        self.bucket = gridfs.GridFSBucket(db, bucket_name=BUCKET)
        self.files = db[f"{BUCKET}.files"]

    def put(self, operation_id: str, data: bytes) -> None:
        """Store ``data`` (its last ``MAX_ARCHIVED_BYTES``) as the operation's log, then drop the
        older copies: readers always find one whole copy."""
        new_id = self.bucket.upload_from_stream(operation_id, data[-MAX_ARCHIVED_BYTES:])
        for old in self.files.find({"filename": operation_id, "_id": {"$ne": new_id}}, {"_id": 1}):
            try:
                self.bucket.delete(old["_id"])
            except gridfs.errors.NoFile:  # dropped concurrently by another attempt's upload
                pass

    def get(self, operation_id: str) -> bytes | None:
        """The newest stored log of the operation, or None."""
        try:
            return self.bucket.open_download_stream_by_name(operation_id).read()
        except gridfs.errors.NoFile:
            return None

    def delete(self, operation_id: str) -> None:
        for old in self.files.find({"filename": operation_id}, {"_id": 1}):
            self.bucket.delete(old["_id"])
