"""The Management SDK: install and govern plugins, users and organization defaults.

    import fiftyops_provider.management as fom
    fom.upload_plugin("plugins_repo/utils")
    fom.set_plugin_operator_enabled("@fiftyops/utils", "count_samples", minimum_role=fom.MEMBER)

Every mutation needs an ADMIN acting user: the ``acting_user`` argument, else ``FIFTYOPS_USER``.
On an empty installation (no FiftyOps users or plugins yet) the acting user of the first admin
command that succeeds becomes the bootstrap admin.

Runs (``list_runs``, ``get_run``, ``terminate_run``, ``rerun``, ...) are read and changed as the
acting user under ``access.run_rules``: in direct mode the user ``acting_user``/``FIFTYOPS_USER``
names, in remote mode (``FIFTYOPS_API_URL`` or ``fiftyops login``) the user of the Airflow token,
checked by the server.
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
from fiftyops_provider.remote import RemoteRuns, remote_login
from fiftyops_provider.run_actions import RunActions, RunQuery
from fiftyops_provider.store import DelegatedOperationDocument, OperationPage

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


def set_plugin_operator_placement(
    name: str, operator: str, placement: dict[str, Any], acting_user: str | None = None
) -> dict[str, Any]:
    """Where Airflow runs an operator's operations, over what its config says.

    :param placement: some of ``queue`` (a Celery queue, e.g. ``"gpu"``), ``pool``,
        ``priority_weight`` and ``executor_config`` (Kubernetes executor); ``{}`` drops the override.
    """
    return _registry().set_operator_placement(name, operator, placement, acting_user)


def set_organization_settings(
    default_operator_minimum_role: Role | str | None = None,
    default_operator_minimum_dataset_permission: DatasetPermission | str | None = None,
    acting_user: str | None = None,
) -> OrganizationSettings:
    """Defaults for operators installed from now on (existing operators keep theirs)."""
    db = _db()
    with UserStore(db).admin_action(acting_user):
        return update_organization_settings(
            db, default_operator_minimum_role, default_operator_minimum_dataset_permission
        )


def get_organization_settings() -> OrganizationSettings:
    return _get_settings(_db())


def create_user(name: str, role: Role | str = MEMBER, acting_user: str | None = None) -> User:
    users = UserStore(_db())
    with users.admin_action(acting_user):
        return users.create(name, role)


def set_user_role(name: str, role: Role | str, acting_user: str | None = None) -> User:
    users = UserStore(_db())
    with users.admin_action(acting_user):
        return users.set_role(name, role)


def grant_dataset_permission(
    name: str, dataset: str, permission: DatasetPermission | str, acting_user: str | None = None
) -> User:
    """Give ``name`` a permission on the dataset called ``dataset`` (kept across renames)."""
    from fiftyops_provider.datasets.catalog import load_dataset

    db = _db()
    users = UserStore(db)
    with users.admin_action(acting_user):
        return users.grant(name, load_dataset(db, None, dataset).id, permission)


def list_users() -> list[User]:
    return UserStore(_db()).list()


# -- runs, as the acting user ---------------------------------------------------------------------
def runs(acting_user: str | None = None) -> RunActions | RemoteRuns:
    """The runs the acting user may see and change: through the FiftyOps API in remote mode, else
    straight from the database as ``acting_user`` (default ``FIFTYOPS_USER``; none: refused).

    :param acting_user: the direct-mode acting user (remote mode takes the token's user)."""
    login = remote_login()
    if login is not None:
        return RemoteRuns(login)
    from fiftyops_provider.config import load_settings

    return RunActions.acting_as(_db(), acting_user or load_settings().user)


def list_runs(acting_user: str | None = None, **query: Any) -> OperationPage:
    """A page of the runs the acting user may see.

    :param acting_user: see ``runs``.
    :param query: ``RunQuery`` fields (``operator``, ``dataset``, ``run_state``, ``skip``, ...)."""
    return runs(acting_user).page(RunQuery(**query))


def get_run(run_id: str, acting_user: str | None = None) -> DelegatedOperationDocument:
    """One run (needs one's own run, VIEW on its dataset, or ADMIN).

    :param run_id: the run's id.
    :param acting_user: see ``runs``."""
    return runs(acting_user).get(run_id)


def terminate_run(run_id: str, reason: str | None = None, acting_user: str | None = None) -> DelegatedOperationDocument:
    """Stop a run (needs one's own run, EDIT on its dataset, or ADMIN).

    :param run_id: the run's id.
    :param reason: recorded on the run.
    :param acting_user: see ``runs``."""
    return runs(acting_user).terminate(run_id, reason)


def rerun(run_id: str, acting_user: str | None = None) -> DelegatedOperationDocument:
    """Queue a new run of ``run_id`` as the acting user, who needs what queueing it needs.

    :param run_id: the run to repeat.
    :param acting_user: see ``runs``."""
    return runs(acting_user).rerun(run_id)


def set_run_label(run_id: str, label: str, acting_user: str | None = None) -> DelegatedOperationDocument:
    """Rename a run (needs one's own run, EDIT on its dataset, or ADMIN).

    :param run_id: the run's id.
    :param label: the new label.
    :param acting_user: see ``runs``."""
    return runs(acting_user).set_label(run_id, label)


def set_run_pinned(run_id: str, pinned: bool = True, acting_user: str | None = None) -> DelegatedOperationDocument:
    """Pin or unpin a run (needs one's own run, EDIT on its dataset, or ADMIN).

    :param run_id: the run's id.
    :param pinned: pin when True.
    :param acting_user: see ``runs``."""
    return runs(acting_user).set_pinned(run_id, pinned)
