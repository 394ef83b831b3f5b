"""Plugin files in MongoDB (GridFS), and their local cache keyed by content hash.

Uploading once makes a plugin runnable on every Airflow worker: a worker that needs a version it
does not have fetches the archive, checks its hash and unpacks it into ``<cache>/<hash>`` (written
to a temporary folder and renamed, so a half-written copy is never used).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import gridfs
from pymongo.database import Database

from fiftyops_provider.plugins.archive import content_hash, unpack
from fiftyops_provider.plugins.errors import PluginError

BUCKET = "fiftyops_plugin_files"
COMPLETE_MARKER = ".fiftyops-complete"


class PluginFilesMissing(PluginError):
    """The archive of a plugin version is not in GridFS (uninstalled or upgraded meanwhile)."""


class PluginFiles:
    def __init__(self, db: Database) -> None:
        self.bucket = gridfs.GridFSBucket(db, bucket_name=BUCKET)
        self.files = db[f"{BUCKET}.files"]

    def put(self, digest: str, data: bytes, plugin_name: str) -> None:
        if self.files.find_one({"filename": digest}, {"_id": 1}) is None:
            self.bucket.upload_from_stream(digest, data, metadata={"plugin": plugin_name})

    def get(self, digest: str) -> bytes:
        try:
            return self.bucket.open_download_stream_by_name(digest).read()
        except gridfs.errors.NoFile:
            raise PluginFilesMissing(
                f"The files of plugin version {digest[:12]} are missing from the database; upload the plugin again."
            ) from None

    def delete(self, digest: str) -> None:
        for doc in self.files.find({"filename": digest}, {"_id": 1}):
            self.bucket.delete(doc["_id"])


def materialize(cache_dir: Path, digest: str, fetch) -> Path:
    """``<cache_dir>/<digest>``, unpacked from ``fetch()`` (the archive bytes) if not there yet."""
    target = cache_dir / digest
    if (target / COMPLETE_MARKER).exists():
        return target
    data = fetch()
    if content_hash(data) != digest:
        raise PluginError(f"Plugin archive {digest[:12]} is corrupt (hash mismatch); upload the plugin again.")
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{digest[:12]}-", dir=cache_dir))
    try:
        unpack(data, staging)
        (staging / COMPLETE_MARKER).touch()
        try:
            staging.rename(target)
        except OSError:  # another process materialized it first
            if not (target / COMPLETE_MARKER).exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
