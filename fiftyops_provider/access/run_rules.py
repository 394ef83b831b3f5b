"""What a FiftyOps user may see and do with runs: the one set of rules the Runs, Run and Plugins
pages, their API, the SDK and the ``fiftyops delegated`` commands all apply.

- Admins see and act on every run.
- Everyone else sees their own runs, and the runs on datasets where they have at least VIEW.
- Pin, rename, terminate and mark failed need their own run, or EDIT on the run's dataset.
- Re-run needs what queueing needs (the operator's minimum role and dataset permission), through
  any door: the Runs page, the SDK or CLI, or an operator DAG triggered in Airflow with ``rerun_of``.
- Listing "all datasets" at once is for admins; others list one dataset or their own runs.
- Bulk cleanup by a non-admin reaches only their own runs, or a dataset they have EDIT on.
- No acting user, no access (the CLI and SDK name theirs with ``FIFTYOPS_USER``).
- A run the user may not see does not exist for them: the same "not found" as an unknown id, and
  queue positions count only the runs they may see.
Checked on the server for every request; the pages only hide what the API would refuse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fiftyops_provider.access.permissions import DatasetPermission, Role
from fiftyops_provider.access.users import User, UserStore, dataset_key
from fiftyops_provider.plugins.errors import PermissionDenied
from fiftyops_provider.store import DelegatedOperationDocument, OperationNotFound

if TYPE_CHECKING:
    from fiftyops_provider.plugins.registry import PluginRegistry

NO_ACTING_USER = (
    "No acting user: set FIFTYOPS_USER to your FiftyOps user name (direct mode), or log in with "
    "`fiftyops login` (remote mode)."
)


def acting_user(users: UserStore, name: str | None) -> User:
    """The user a CLI or SDK call acts as. A name FiftyOps has no record of acts as a GUEST with
    no dataset grants (it sees only the runs it queued), the way the UI treats unknown Airflow
    roles; no name at all is refused.

    :param users: the user records.
    :param name: the acting user's name (``FIFTYOPS_USER``), or None.
    """
    if not name:
        raise PermissionDenied(NO_ACTING_USER)
    return users.get(name) or User(name, Role.GUEST)


def is_admin(user: User) -> bool:
    return user.role is Role.ADMIN


def _owns(user: User, doc: DelegatedOperationDocument) -> bool:
    return doc.queued_by is not None and doc.queued_by == user.name


def can_view(user: User, doc: DelegatedOperationDocument) -> bool:
    return is_admin(user) or _owns(user, doc) or user.dataset_permission(_dataset(doc)) >= DatasetPermission.VIEW


def can_change(user: User, doc: DelegatedOperationDocument) -> bool:
    return is_admin(user) or _owns(user, doc) or user.dataset_permission(_dataset(doc)) >= DatasetPermission.EDIT


def require_view(user: User, doc: DelegatedOperationDocument) -> None:
    """A run the user may not see answers like an unknown id: its existence is not revealed."""
    if not can_view(user, doc):
        raise OperationNotFound(doc.id)


def require_change(user: User, doc: DelegatedOperationDocument) -> None:
    if not can_change(user, doc):
        raise PermissionDenied(
            f"{user.name} cannot change run {doc.id}: only its owner, an admin or a user with EDIT on its dataset can."
        )


def require_admin(user: User) -> None:
    if not is_admin(user):
        raise PermissionDenied(
            f"{user.name} is {user.role.name}; only admins can manage plugins and organization settings."
        )


def require_rerun(registry: PluginRegistry, user: User, doc: DelegatedOperationDocument) -> None:
    """Re-run needs what queueing needs: ``user`` may see the run and may run its operator on its
    dataset now (the new run is queued by ``user``, never by the original owner)."""
    require_view(user, doc)
    registry.check_runnable(doc.operator, user.name, doc.dataset_id, doc.dataset_name)


def queue_scope(user: User) -> dict[str, Any]:
    """``get_queue_position`` arguments that count only the runs ``user`` may see."""
    if is_admin(user):
        return {}
    visible = [dataset for dataset, permission in user.datasets.items() if permission >= DatasetPermission.VIEW]
    return {"visible_to": user.name, "visible_datasets": visible}


def run_filters(user: User, mine: bool, dataset_id: str | None) -> dict[str, Any]:
    """The store filters of a Runs-page listing, narrowed to what ``user`` may see."""
    filters: dict[str, Any] = {}
    if mine:
        filters["queued_by"] = user.name
    if dataset_id:
        dataset_id = dataset_key(dataset_id)
        if not mine and user.dataset_permission(dataset_id) < DatasetPermission.VIEW:
            raise PermissionDenied(
                f"{user.name} has no VIEW permission on dataset {dataset_id}; choose My runs or ask an admin."
            )
        filters["dataset_id"] = dataset_id
    elif not mine and not is_admin(user):
        raise PermissionDenied("Only admins can list the runs of all datasets; choose a dataset or My runs.")
    return filters


def listing_filters(user: User, queued_by: str | None, dataset_id: str | None) -> dict[str, Any]:
    """The SDK/CLI form of ``run_filters``: runs queued by ``queued_by`` (any user when None) on
    ``dataset_id`` (any dataset when None). A non-admin who names no dataset lists their own runs;
    someone else's runs need VIEW on a named dataset."""
    mine = queued_by == user.name or (queued_by is None and dataset_id is None and not is_admin(user))
    filters = run_filters(user, mine, dataset_id)
    if queued_by is not None:
        filters["queued_by"] = queued_by
    return filters


def cleanup_filters(user: User, dataset_id: str | None) -> dict[str, Any]:
    """What a bulk cleanup by ``user`` may reach: everything for admins, the whole dataset for a
    user with EDIT on it, else only ``user``'s own runs."""
    if is_admin(user) or (dataset_id is not None and user.dataset_permission(dataset_id) >= DatasetPermission.EDIT):
        return {}
    return {"queued_by": user.name}


def _dataset(doc: DelegatedOperationDocument) -> str | None:
    return str(doc.dataset_id) if doc.dataset_id is not None else None
