"""``fiftyone.yml``: parsing and validating a plugin's metadata."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from fiftyops_provider.execution.child_env import is_reserved
from fiftyops_provider.plugins.errors import InvalidPlugin

METADATA_FILENAMES = ("fiftyone.yml", "fiftyone.yaml")
NAME_PATTERN = re.compile(r"^@?[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)?$")
OPERATOR_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
# Secret keys are looked up as environment variables / Airflow Variables of the same name.
SECRET_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_METADATA_BYTES = 64 * 1024


@dataclass
class PluginDefinition:
    name: str
    version: str | None = None
    description: str | None = None
    author: str | None = None
    url: str | None = None
    license: str | None = None
    tags: list[str] = field(default_factory=list)
    operators: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    py_entry: str = "__init__.py"


def find_metadata(root: Path) -> Path:
    for name in METADATA_FILENAMES:
        candidate = root / name
        if candidate.is_file():
            return candidate
    raise InvalidPlugin(f"No fiftyone.yml at the top of the plugin ({root.name}); add one with at least a `name`.")


def _str_list(raw: dict[str, Any], key: str) -> list[str]:
    value = raw.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidPlugin(f"fiftyone.yml: `{key}` must be a list of strings.")
    return value


def _optional_str(raw: dict[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is not None and not isinstance(value, (str, int, float)):
        raise InvalidPlugin(f"fiftyone.yml: `{key}` must be a string.")
    return None if value is None else str(value)


def parse_definition(root: Path) -> PluginDefinition:
    """Read and validate ``root/fiftyone.yml``; every problem is an ``InvalidPlugin``."""
    path = find_metadata(root)
    if path.stat().st_size > MAX_METADATA_BYTES:
        raise InvalidPlugin(f"{path.name} is larger than {MAX_METADATA_BYTES} bytes.")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InvalidPlugin(f"{path.name} is not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise InvalidPlugin(f"{path.name} must be a mapping with at least `name`.")
    name = raw.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise InvalidPlugin(f"{path.name}: `name` is required and must look like '@org/plugin' (got {name!r}).")
    if raw.get("type") not in (None, "plugin"):
        raise InvalidPlugin(f"{path.name}: `type` must be 'plugin' when given.")
    operators = _str_list(raw, "operators") + _str_list(raw, "panels")
    for op in operators:
        if not OPERATOR_NAME_PATTERN.match(op):
            raise InvalidPlugin(f"{path.name}: operator name {op!r} may use letters, digits, '_' and '-'.")
    secrets = _str_list(raw, "secrets")
    for key in secrets:
        if not SECRET_NAME_PATTERN.match(key):
            raise InvalidPlugin(
                f"{path.name}: secret {key!r} must be an environment-variable name (letters, digits, '_')."
            )
        if is_reserved(key):
            raise InvalidPlugin(
                f"{path.name}: secret {key!r} names Airflow's or FiftyOps' own configuration (AIRFLOW*, "
                "FIFTYOPS_DATABASE_*), which no plugin is given; declare a name of your own."
            )
    py_entry = raw.get("py_entry") or "__init__.py"
    if not isinstance(py_entry, str):
        raise InvalidPlugin(f"{path.name}: `py_entry` must be a relative path.")
    entry = PurePosixPath(py_entry)
    if entry.is_absolute() or ".." in entry.parts or not (root / entry).resolve().is_relative_to(root.resolve()):
        raise InvalidPlugin(f"{path.name}: `py_entry` {py_entry!r} must stay inside the plugin directory.")
    if not (root / entry).is_file():
        raise InvalidPlugin(f"{path.name}: `py_entry` {py_entry!r} does not exist in the plugin.")
    return PluginDefinition(
        name=name,
        version=_optional_str(raw, "version"),
        description=_optional_str(raw, "description"),
        author=_optional_str(raw, "author"),
        url=_optional_str(raw, "url"),
        license=_optional_str(raw, "license"),
        tags=_str_list(raw, "tags"),
        operators=operators,
        secrets=secrets,
        py_entry=str(entry),
    )
