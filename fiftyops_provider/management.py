"""The Management SDK: install and govern plugins, users and organization defaults.

    import fiftyops_provider.management as fom
    fom.upload_plugin("plugins_repo/utils")
    fom.set_plugin_operator_enabled("@fiftyops/utils", "count_samples", minimum_role=fom.MEMBER)

Every mutation needs an ADMIN acting user: the ``acting_user`` argument, else ``FIFTYOPS_USER``.
On a fresh installation (no users yet) the first acting user becomes the bootstrap admin.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pymongo.database import Database

from fiftyops_provider.access.org_settings import (
    OrganizationSettings,
    update_organization_settings,
)
from fiftyops_provider.access.org_settings import (
    get_organization_settings as _get_settings,
)
from fiftyops_provider.access.permissions import DatasetPermission, Role
from fiftyops_provider.access.users import User, UserStore
from fiftyops_provider.plugins.registry import OperatorInfo, PluginRegistry

GUEST, COLLABORATOR, MEMBER, ADMIN = Role.GUEST, Role.COLLABORATOR, Role.MEMBER, Role.ADMIN
NO_ACCESS, VIEW, TAG, EDIT, MANAGE = (
    DatasetPermission.NO_ACCESS,
    DatasetPermission.VIEW,
    DatasetPermission.TAG,
    DatasetPermission.EDIT,
    DatasetPermission.MANAGE,
)


def _db() -> Database:
    from fiftyops_provider.database import get_database

    return get_database()


def _registry() -> PluginRegistry:
    return PluginRegistry(_db())


def upload_plugin(path: str | Path, overwrite: bool = False, acting_user: str | None = None) -> dict[str, Any]:
    """Install a plugin from a directory or a .zip; ``overwrite=True`` upgrades an installed one."""
    return _registry().install(path, overwrite=overwrite, acting_user=acting_user)


def delete_plugin(name: str, acting_user: str | None = None) -> None:
    _registry().uninstall(name, acting_user=acting_user)


def list_plugins() -> list[dict[str, Any]]:
    return _registry().list_plugins()


def get_plugin_info(name: str) -> dict[str, Any]:
    return _registry().get_plugin_info(name)


def list_operators(enabled_only: bool = False) -> list[OperatorInfo]:
    return _registry().list_operators(enabled_only=enabled_only)


def set_plugin_enabled(name: str, enabled: bool, acting_user: str | None = None) -> dict[str, Any]:
    return _registry().set_enabled(name, enabled, acting_user=acting_user)


def set_plugin_operator_enabled(
    name: str,
    operator: str,
    enabled: bool | None = None,
    minimum_role: Role | str | None = None,
    minimum_dataset_permission: DatasetPermission | str | None = None,
    acting_user: str | None = None,
) -> dict[str, Any]:
    return _registry().set_operator(name, operator, enabled, minimum_role, minimum_dataset_permission, acting_user)


def set_plugin_operator_permissions(
    name: str,
    operator: str,
    minimum_role: Role | str | None = None,
    minimum_dataset_permission: DatasetPermission | str | None = None,
    acting_user: str | None = None,
) -> dict[str, Any]:
    return _registry().set_operator(name, operator, None, minimum_role, minimum_dataset_permission, acting_user)


def set_organization_settings(
    default_operator_minimum_role: Role | str | None = None,
    default_operator_minimum_dataset_permission: DatasetPermission | str | None = None,
    acting_user: str | None = None,
) -> OrganizationSettings:
    """Defaults for operators installed from now on (existing operators keep theirs)."""
    db = _db()
    UserStore(db).require_admin(acting_user)
    return update_organization_settings(db, default_operator_minimum_role, default_operator_minimum_dataset_permission)


def get_organization_settings() -> OrganizationSettings:
    return _get_settings(_db())


def create_user(name: str, role: Role | str = MEMBER, acting_user: str | None = None) -> User:
    users = UserStore(_db())
    users.require_admin(acting_user)
    return users.create(name, role)


def set_user_role(name: str, role: Role | str, acting_user: str | None = None) -> User:
    users = UserStore(_db())
    users.require_admin(acting_user)
    return users.set_role(name, role)


def grant_dataset_permission(
    name: str, dataset: str, permission: DatasetPermission | str, acting_user: str | None = None
) -> User:
    """Give ``name`` a permission on the dataset called ``dataset`` (kept across renames)."""
    from fiftyops_provider.datasets.catalog import load_dataset

    db = _db()
    users = UserStore(db)
    users.require_admin(acting_user)
    return users.grant(name, load_dataset(db, None, dataset).id, permission)


def list_users() -> list[User]:
    return UserStore(_db()).list()
