"""Hostile or broken plugins are refused with a clear error, and nothing is installed."""

from __future__ import annotations

import io
import os
import stat
import struct
import warnings
import zipfile

import pytest

from fiftyops_provider.plugins import InvalidPlugin, archive
from tests.plugins.conftest import write_plugin


def _zip(tmp_path, entries: dict[str, bytes | str], symlinks: dict[str, str] | None = None) -> str:
    path = tmp_path / "plugin.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in entries.items():
            zf.writestr(name, content)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return str(path)


def _good_entries(tmp_path) -> dict[str, str]:
    src = write_plugin(tmp_path / "good")
    return {"fiftyone.yml": (src / "fiftyone.yml").read_text(), "__init__.py": (src / "__init__.py").read_text()}


def _assert_nothing_installed(registry):
    assert registry.collection.count_documents({}) == 0
    assert registry.files.files.count_documents({}) == 0
    leftovers = [p for p in registry.cache_dir.glob("*")] if registry.cache_dir.exists() else []
    assert leftovers == []


ARCHIVE_CASES = {
    "parent traversal": lambda g: {**g, "../evil.py": "x = 1"},
    "nested traversal": lambda g: {**g, "a/../../evil.py": "x = 1"},
    "absolute path": lambda g: {**g, "/etc/evil.py": "x = 1"},
    "windows drive": lambda g: {**g, "C:/evil.py": "x = 1"},
    "missing yml": lambda g: {"__init__.py": g["__init__.py"]},
    "yml not a mapping": lambda g: {**g, "fiftyone.yml": "- just\n- a list\n"},
    "yml not yaml": lambda g: {**g, "fiftyone.yml": "name: [unclosed\n"},
    "yml without name": lambda g: {**g, "fiftyone.yml": "operators: [double]\n"},
    "bad plugin name": lambda g: {**g, "fiftyone.yml": 'name: "../../x"\noperators: [double]\n'},
    "bad operator name": lambda g: {**g, "fiftyone.yml": 'name: "@test/demo"\noperators: ["a b"]\n'},
    "operators not a list": lambda g: {**g, "fiftyone.yml": 'name: "@test/demo"\noperators: double\n'},
    "py_entry escapes": lambda g: {**g, "fiftyone.yml": 'name: "@test/demo"\noperators: [double]\npy_entry: ../x.py\n'},
    "py_entry absolute": lambda g: {
        **g,
        "fiftyone.yml": 'name: "@test/demo"\noperators: [double]\npy_entry: /etc/passwd\n',
    },
    "py_entry missing": lambda g: {**g, "fiftyone.yml": 'name: "@test/demo"\noperators: [double]\npy_entry: nope.py\n'},
    "undeclared operator": lambda g: {**g, "fiftyone.yml": 'name: "@test/demo"\noperators: [other]\n'},
    "declared operator never registered": lambda g: {
        **g,
        "fiftyone.yml": 'name: "@test/demo"\noperators: [double, ghost]\n',
    },
    "import error": lambda g: {**g, "__init__.py": "raise ValueError('boom at import')\n"},
    "syntax error": lambda g: {**g, "__init__.py": "def broken(:\n"},
    "no register function": lambda g: {**g, "__init__.py": "x = 1\n"},
    "register raises": lambda g: {**g, "__init__.py": "def register(p):\n    raise RuntimeError('nope')\n"},
    "registers a non-operator": lambda g: {**g, "__init__.py": "def register(p):\n    p.register(dict)\n"},
    "exits the process": lambda g: {**g, "__init__.py": "import sys\nsys.exit(3)\n"},
    "secret is not a variable name": lambda g: {
        **g,
        "fiftyone.yml": 'name: "@test/demo"\noperators: [double]\nsecrets: ["A B=1"]\n',
    },
    "file where a folder is needed": lambda g: {**g, "pkg": "x", "pkg/mod.py": "x = 1"},
    "secret names Airflow's own connection": lambda g: {
        **g,
        "fiftyone.yml": 'name: "@test/demo"\noperators: [double]\nsecrets: ["AIRFLOW_CONN_FIFTYOPS_DEFAULT"]\n',
    },
}


@pytest.mark.parametrize("case", sorted(ARCHIVE_CASES))
def test_hostile_zip_is_refused_and_nothing_installed(registry, tmp_path, case):
    entries = ARCHIVE_CASES[case](_good_entries(tmp_path))
    with pytest.raises(InvalidPlugin) as exc:
        registry.install(_zip(tmp_path, entries))
    assert str(exc.value)  # a message the user can act on
    _assert_nothing_installed(registry)


def test_symlink_entry_is_refused(registry, tmp_path):
    with pytest.raises(InvalidPlugin, match="symlink"):
        registry.install(_zip(tmp_path, _good_entries(tmp_path), symlinks={"link.py": "/etc/passwd"}))
    _assert_nothing_installed(registry)


def test_symlink_in_a_directory_is_refused(registry, tmp_path):
    plugin = write_plugin(tmp_path / "p")
    os.symlink("/etc/passwd", plugin / "passwd")
    with pytest.raises(InvalidPlugin, match="symlink"):
        registry.install(plugin)
    _assert_nothing_installed(registry)


def test_zip_bomb_stops_at_the_size_limit(registry, tmp_path, monkeypatch):
    monkeypatch.setattr(archive, "MAX_TOTAL_BYTES", 1024 * 1024)
    entries = {**_good_entries(tmp_path), "bomb.bin": b"\0" * (8 * 1024 * 1024)}  # compresses to ~8 KB
    with pytest.raises(InvalidPlugin, match="larger than"):
        registry.install(_zip(tmp_path, entries))
    _assert_nothing_installed(registry)


def test_too_many_files_is_refused(registry, tmp_path, monkeypatch):
    monkeypatch.setattr(archive, "MAX_FILES", 20)
    entries = {**_good_entries(tmp_path), **{f"f{i}.txt": "x" for i in range(25)}}
    with pytest.raises(InvalidPlugin, match="more than 20 files"):
        registry.install(_zip(tmp_path, entries))
    _assert_nothing_installed(registry)


def test_not_a_zip_and_missing_path(registry, tmp_path):
    bogus = tmp_path / "bogus.zip"
    bogus.write_bytes(b"this is not a zip")
    with pytest.raises(InvalidPlugin, match="Not a valid ZIP"):
        registry.install(bogus)
    with pytest.raises(InvalidPlugin, match="does not exist"):
        registry.install(tmp_path / "missing")
    _assert_nothing_installed(registry)


def test_import_errors_carry_the_traceback(registry, tmp_path):
    entries = {**_good_entries(tmp_path), "__init__.py": "raise ValueError('boom at import')\n"}
    with pytest.raises(InvalidPlugin, match=r"(?s)Traceback.*ValueError: boom at import"):
        registry.install(_zip(tmp_path, entries))


def _patched_zip(tmp_path, entries: dict[str, str], patch) -> str:
    """A zip whose local and central headers of every entry are altered by ``patch(raw, local, central)``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in entries.items():
            zf.writestr(name, content)
    raw = bytearray(buffer.getvalue())
    local = central = 0
    while (local := raw.find(b"PK\x03\x04", local)) != -1 and (central := raw.find(b"PK\x01\x02", central)) != -1:
        patch(raw, local, central)
        local, central = local + 4, central + 4
    path = tmp_path / "patched.zip"
    path.write_bytes(bytes(raw))
    return str(path)


def _encrypt_flag(raw, local, central):
    raw[local + 6] |= 0x1
    raw[central + 8] |= 0x1


def _unknown_method(raw, local, central):
    struct.pack_into("<H", raw, local + 8, 99)
    struct.pack_into("<H", raw, central + 10, 99)


@pytest.mark.parametrize("patch,message", [(_encrypt_flag, "encrypted"), (_unknown_method, "unsupported compression")])
def test_entries_zipfile_cannot_read_safely_are_refused_as_invalid_plugins(registry, tmp_path, patch, message):
    with pytest.raises(InvalidPlugin, match=message):
        registry.install(_patched_zip(tmp_path, _good_entries(tmp_path), patch))
    _assert_nothing_installed(registry)


def test_duplicate_entries_are_refused(registry, tmp_path):
    """With two ``__init__.py`` entries, what a reviewer lists is not what would run."""
    path = tmp_path / "dup.zip"
    good = _good_entries(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name: that is the point
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("fiftyone.yml", good["fiftyone.yml"])
            zf.writestr("__init__.py", good["__init__.py"])
            zf.writestr("__init__.py", "import os\n" + good["__init__.py"])
    with pytest.raises(InvalidPlugin, match="appears twice"):
        registry.install(path)
    _assert_nothing_installed(registry)


def test_a_refused_upgrade_archive_leaves_the_installed_version_alone(registry, tmp_path):
    registry.install(write_plugin(tmp_path / "v1"))
    before = registry.collection.find_one({"_id": "@test/demo"})
    entries = {**_good_entries(tmp_path), "../evil.py": "x = 1"}
    with pytest.raises(InvalidPlugin, match="escapes"):
        registry.install(_zip(tmp_path, entries), overwrite=True)
    assert registry.collection.find_one({"_id": "@test/demo"}) == before
    assert registry.files.files.count_documents({}) == 1
