"""Roles and dataset permissions, ordered so that "at least" is a comparison."""

from __future__ import annotations

from enum import IntEnum

from fiftyops_provider.plugins.errors import PluginError


class Role(IntEnum):
    GUEST = 0
    COLLABORATOR = 1
    MEMBER = 2
    ADMIN = 3


class DatasetPermission(IntEnum):
    NO_ACCESS = 0
    VIEW = 1
    TAG = 2
    EDIT = 3
    MANAGE = 4


DEFAULT_MINIMUM_ROLE = Role.MEMBER
DEFAULT_MINIMUM_DATASET_PERMISSION = DatasetPermission.EDIT


def parse_role(value: object) -> Role:
    return _parse(Role, value, "role")


def parse_dataset_permission(value: object) -> DatasetPermission:
    return _parse(DatasetPermission, value, "dataset permission")


def _parse(enum: type[IntEnum], value: object, what: str):
    if isinstance(value, enum):
        return value
    if isinstance(value, str) and value.upper() in enum.__members__:
        return enum[value.upper()]
    if isinstance(value, int) and not isinstance(value, bool) and value in {m.value for m in enum}:
        return enum(value)
    raise PluginError(f"Unknown {what} {value!r}; use one of: {', '.join(enum.__members__)}.")
