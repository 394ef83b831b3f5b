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
    """Install a plugin from a directory or a .zip; ``overwrite=True`` upgrades an installed one.
    Its operators become runnable (and get their Airflow DAGs) at once.

    :param path: the plugin directory or .zip.
    :param overwrite: upgrade the plugin if it is installed; without it an installed plugin is
        refused (``PluginAlreadyInstalled``), so an install never replaces one by surprise.
    :param acting_user: who does it (default: ``FIFTYOPS_USER``); must be an admin.
    """
    return _registry().install(path, overwrite=overwrite, acting_user=acting_user)


def delete_plugin(name: str, acting_user: str | None = None) -> None:
    """Uninstall a plugin: its operators can no longer be queued and their DAGs go away.

    :param name: the plugin (``@org/plugin``).
    :param acting_user: who does it (default: ``FIFTYOPS_USER``); must be an admin.
    """
    _registry().uninstall(name, acting_user=acting_user)


def list_plugins() -> list[dict[str, Any]]:
    """Every installed plugin with its operators and settings, for admin views and scripts."""
    return _registry().list_plugins()


def get_plugin_info(name: str) -> dict[str, Any]:
    """One plugin with its operators and settings.

    :param name: the plugin (``@org/plugin``).
    """
    return _registry().get_plugin_info(name)


def list_operators(enabled_only: bool = False) -> list[OperatorInfo]:
    """The installed operators, then FiftyOne's own delegable ones (``runtime`` "fiftyone") when a
    FiftyOne interpreter is configured: the operators the DAG factory makes one DAG each of (the
    enabled, delegation-capable ones).

    :param enabled_only: only operators that can be queued now.
    """
    registry = _registry()
    listed = registry.list_operators(enabled_only=False) + registry.fiftyone_operators()
    return [info for info in listed if info.enabled or not enabled_only]


def set_plugin_enabled(name: str, enabled: bool, acting_user: str | None = None) -> dict[str, Any]:
    """Enable or disable a whole plugin; a disabled plugin's operators cannot be queued.

    :param name: the plugin.
    :param enabled: True to enable.
    :param acting_user: who does it (default: ``FIFTYOPS_USER``); must be an admin.
    """
    return _registry().set_enabled(name, enabled, acting_user=acting_user)


def set_plugin_operator_enabled(
    name: str,
    operator: str,
    enabled: bool | None = None,
    minimum_role: Role | str | None = None,
    minimum_dataset_permission: DatasetPermission | str | None = None,
    acting_user: str | None = None,
) -> dict[str, Any]:
    """Enable or disable one operator, and optionally set who may run it (FiftyOne's name for it).

    :param name: the plugin.
    :param operator: the operator's name in the plugin.
    :param enabled: True to enable, False to disable, None to leave as is.
    :param minimum_role: the lowest role that may run it (None: unchanged).
    :param minimum_dataset_permission: the lowest permission on the dataset (None: unchanged).
    :param acting_user: who does it (default: ``FIFTYOPS_USER``); must be an admin.
    """
    return _registry().set_operator(name, operator, enabled, minimum_role, minimum_dataset_permission, acting_user)


def set_plugin_operator_permissions(
    name: str,
    operator: str,
    minimum_role: Role | str | None = None,
    minimum_dataset_permission: DatasetPermission | str | None = None,
    acting_user: str | None = None,
) -> dict[str, Any]:
    """Set who may run one operator, leaving it enabled or disabled as it is.

    :param name: the plugin.
    :param operator: the operator's name in the plugin.
    :param minimum_role: the lowest role that may run it (None: unchanged).
    :param minimum_dataset_permission: the lowest permission on the dataset (None: unchanged).
    :param acting_user: who does it (default: ``FIFTYOPS_USER``); must be an admin.
    """
    return _registry().set_operator(name, operator, None, minimum_role, minimum_dataset_permission, acting_user)


def set_plugin_operator_placement(
    name: str, operator: str, placement: dict[str, Any], acting_user: str | None = None
) -> dict[str, Any]:
    """Where Airflow runs an operator's operations, over what its config says: an admin moves
    work to the hosts that suit it (a GPU queue) without a new plugin release.

    :param name: the plugin, e.g. ``@org/plugin``.
    :param operator: the operator's name within the plugin.
    :param placement: some of ``queue`` (a Celery queue, e.g. ``"gpu"``), ``pool``,
        ``priority_weight`` and ``executor_config`` (Kubernetes executor); ``{}`` drops the override.
    :param acting_user: who does it (default: ``FIFTYOPS_USER``); must be an admin.
    """
    return _registry().set_operator_placement(name, operator, placement, acting_user)


def set_plugin_operator_policy(
    name: str,
    operator: str,
    execution_timeout: float | None = None,
    on_reset: str | None = None,
    max_attempts: int | None = None,
    acting_user: str | None = None,
) -> dict[str, Any]:
    """The execution policy of a FiftyOne operator (a FiftyOne plugin's, or one of FiftyOne's own,
    e.g. ``("@voxel51/operators", "clear_sample_field")``): FiftyOne's ``OperatorConfig`` declares
    none, so the admin sets what a FiftyOps operator declares in its config. Kept across upgrades;
    the executor and reaper apply it, the operator's DAG follows it (timeout, retries) on the next
    parse.

    :param name: the plugin, e.g. ``@org/plugin`` or ``@voxel51/operators``.
    :param operator: the operator's name within the plugin.
    :param execution_timeout: seconds before a run is stopped (None: unchanged; default 3600).
    :param on_reset: "failed" or "rerun": what a run that timed out or whose worker died becomes.
    :param max_attempts: how many runs "rerun" allows in all.
    :param acting_user: who does it (default: ``FIFTYOPS_USER``); must be an admin.
    """
    return _registry().set_operator(
        name,
        operator,
        acting_user=acting_user,
        execution_timeout=execution_timeout,
        on_reset=on_reset,
        max_attempts=max_attempts,
    )


def set_organization_settings(
    default_operator_minimum_role: Role | str | None = None,
    default_operator_minimum_dataset_permission: DatasetPermission | str | None = None,
    acting_user: str | None = None,
) -> OrganizationSettings:
    """Defaults for operators installed from now on (existing operators keep theirs).

    :param default_operator_minimum_role: the role new operators need (None: unchanged).
    :param default_operator_minimum_dataset_permission: the dataset permission they need (None:
        unchanged).
    :param acting_user: who does it (default: ``FIFTYOPS_USER``); must be an admin.
    """
    db = _db()
    with UserStore(db).admin_action(acting_user):
        return update_organization_settings(
            db, default_operator_minimum_role, default_operator_minimum_dataset_permission
        )


def get_organization_settings() -> OrganizationSettings:
    """The defaults new operators get (see ``set_organization_settings``)."""
    return _get_settings(_db())


def create_user(name: str, role: Role | str = MEMBER, acting_user: str | None = None) -> User:
    """Create a FiftyOps user (an Airflow user gets one on first sight; scripts create them ahead).

    :param name: the user name (the Airflow user of the same name maps to it).
    :param role: GUEST, COLLABORATOR, MEMBER or ADMIN.
    :param acting_user: who does it (default: ``FIFTYOPS_USER``); must be an admin.
    """
    users = UserStore(_db())
    with users.admin_action(acting_user):
        return users.create(name, role)


def set_user_role(name: str, role: Role | str, acting_user: str | None = None) -> User:
    """Promote or demote a user; the FiftyOps record wins over the role mapped from Airflow.

    :param name: the user.
    :param role: GUEST, COLLABORATOR, MEMBER or ADMIN.
    :param acting_user: who does it (default: ``FIFTYOPS_USER``); must be an admin.
    """
    users = UserStore(_db())
    with users.admin_action(acting_user):
        return users.set_role(name, role)


def grant_dataset_permission(
    name: str, dataset: str, permission: DatasetPermission | str, acting_user: str | None = None
) -> User:
    """Give ``name`` a permission on the dataset called ``dataset`` (kept across renames: it is
    stored by the dataset's id).

    :param name: the user.
    :param dataset: the dataset's name.
    :param permission: NO_ACCESS, VIEW, TAG, EDIT or MANAGE.
    :param acting_user: who does it (default: ``FIFTYOPS_USER``); must be an admin.
    """
    from fiftyops_provider.datasets.catalog import load_dataset

    db = _db()
    users = UserStore(db)
    with users.admin_action(acting_user):
        return users.grant(name, load_dataset(db, None, dataset).id, permission)


def list_users() -> list[User]:
    """Every FiftyOps user with their role and dataset grants."""
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
