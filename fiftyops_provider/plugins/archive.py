"""Plugin archives: packing a directory and unpacking a ZIP, refusing hostile content.

A plugin travels as one canonical ZIP (sorted entries, fixed timestamps), so the same files give
the same bytes and the same content hash on every machine. Unpacking refuses absolute paths,
``..``, symlinks, duplicate entries (what a reviewer lists would not be what runs), encrypted or
oddly compressed entries, and archives over the file-count or size limits (sizes are counted
while reading, not trusted from the headers: a zip bomb stops at the limit). Every refusal is an
``InvalidPlugin``, raised before anything is installed.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from fiftyops_provider.plugins.definition import METADATA_FILENAMES
from fiftyops_provider.plugins.errors import InvalidPlugin

MAX_FILES = 2000
MAX_TOTAL_BYTES = 64 * 1024 * 1024
MAX_ARCHIVE_BYTES = 64 * 1024 * 1024
SKIPPED_PARTS = {"__pycache__", ".git"}
SUPPORTED_COMPRESSION = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
FIXED_TIME = (2020, 1, 1, 0, 0, 0)


def _check_member_name(name: str) -> PurePosixPath:
    path = PurePosixPath(name.replace("\\", "/"))
    if not name or path.is_absolute() or name.startswith("/") or ":" in path.parts[0] or ".." in path.parts:
        raise InvalidPlugin(f"Archive entry {name!r} escapes the plugin directory; refusing the archive.")
    return path


def pack_directory(root: Path) -> bytes:
    """The canonical ZIP of a plugin directory (no symlinks, within the limits)."""
    if not root.is_dir():
        raise InvalidPlugin(f"{root} is not a directory or a .zip file.")
    entries: list[tuple[str, Path]] = []
    total = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_PARTS)
        for dirname in dirnames:
            if (Path(dirpath) / dirname).is_symlink():
                raise InvalidPlugin(f"{Path(dirpath, dirname)} is a symlink; plugins may not contain symlinks.")
        for filename in filenames:
            path = Path(dirpath) / filename
            if path.is_symlink():
                raise InvalidPlugin(f"{path} is a symlink; plugins may not contain symlinks.")
            if filename.endswith(".pyc"):
                continue
            total += path.stat().st_size
            entries.append((path.relative_to(root).as_posix(), path))
            _check_limits(len(entries), total)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, path in sorted(entries):
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def _check_limits(files: int, total: int) -> None:
    if files > MAX_FILES:
        raise InvalidPlugin(f"The plugin has more than {MAX_FILES} files; refusing it.")
    if total > MAX_TOTAL_BYTES:
        raise InvalidPlugin(
            f"The plugin is larger than {MAX_TOTAL_BYTES // (1024 * 1024)} MiB uncompressed; refusing it."
        )


def unpack(data: bytes, destination: Path) -> None:
    """Extract a plugin ZIP into ``destination`` (which must be empty), enforcing every rule."""
    if len(data) > MAX_ARCHIVE_BYTES:
        raise InvalidPlugin(f"The archive is larger than {MAX_ARCHIVE_BYTES // (1024 * 1024)} MiB.")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise InvalidPlugin(f"Not a valid ZIP archive: {exc}") from None
    with archive:
        members = archive.infolist()
        _check_limits(len(members), 0)
        total = 0
        seen: set[PurePosixPath] = set()
        for member in members:
            path = _check_member_name(member.filename)
            if path in seen:
                raise InvalidPlugin(f"Archive entry {member.filename!r} appears twice; rebuild the archive.")
            seen.add(path)
            if stat.S_ISLNK(member.external_attr >> 16):
                raise InvalidPlugin(
                    f"Archive entry {member.filename!r} is a symlink; plugins may not contain symlinks."
                )
            if member.flag_bits & 0x1:
                raise InvalidPlugin(f"Archive entry {member.filename!r} is encrypted; upload an unencrypted archive.")
            if member.compress_type not in SUPPORTED_COMPRESSION:
                raise InvalidPlugin(
                    f"Archive entry {member.filename!r} uses an unsupported compression method "
                    f"({member.compress_type}); "
                    "rebuild the archive with plain ZIP (deflate)."
                )
            target = destination.joinpath(*path.parts)
            try:
                if member.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as source, open(target, "wb") as out:
                    while chunk := source.read(1024 * 1024):
                        total += len(chunk)
                        _check_limits(0, total)
                        out.write(chunk)
            except (
                zipfile.BadZipFile,
                EOFError,
                OSError,
                zlib.error,
                RuntimeError,
                NotImplementedError,
                ValueError,
            ) as exc:
                raise InvalidPlugin(
                    f"Archive entry {member.filename!r} cannot be extracted (corrupt or conflicting): {exc}"
                ) from None


def plugin_root(extracted: Path) -> Path:
    """Where ``fiftyone.yml`` is: the top of the archive, or its single top-level folder."""
    if any((extracted / name).is_file() for name in METADATA_FILENAMES):
        return extracted
    children = [c for c in extracted.iterdir() if c.name not in SKIPPED_PARTS and not c.name.startswith("__MACOSX")]
    if len(children) == 1 and children[0].is_dir() and any((children[0] / n).is_file() for n in METADATA_FILENAMES):
        return children[0]
    raise InvalidPlugin("The archive has no fiftyone.yml at its top (or in its single top-level folder).")


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
