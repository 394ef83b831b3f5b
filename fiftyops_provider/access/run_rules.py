"""What a FiftyOps user may see and do on the Runs, Run and Plugins pages.

- Admins see and act on every run.
- Everyone else sees their own runs, and the runs on datasets where they have at least VIEW.
- Pin, rename, terminate and mark failed need their own run, or EDIT on the run's dataset.
- Re-run needs what queueing needs (the operator's minimum role and dataset permission).
- Listing "all datasets" at once is for admins; others list one dataset or their own runs.
Checked on the server for every request; the pages only hide what the API would refuse.
"""

from __future__ import annotations

from typing import Any

from fiftyops_provider.access.permissions import DatasetPermission, Role
from fiftyops_provider.access.users import User
from fiftyops_provider.plugins.errors import PermissionDenied
from fiftyops_provider.store import DelegatedOperationDocument


def is_admin(user: User) -> bool:
    return user.role is Role.ADMIN


def _owns(user: User, doc: DelegatedOperationDocument) -> bool:
    return doc.queued_by is not None and doc.queued_by == user.name


def can_view(user: User, doc: DelegatedOperationDocument) -> bool:
    return is_admin(user) or _owns(user, doc) or user.dataset_permission(_dataset(doc)) >= DatasetPermission.VIEW


def can_change(user: User, doc: DelegatedOperationDocument) -> bool:
    return is_admin(user) or _owns(user, doc) or user.dataset_permission(_dataset(doc)) >= DatasetPermission.EDIT


def require_view(user: User, doc: DelegatedOperationDocument) -> None:
    if not can_view(user, doc):
        raise PermissionDenied(
            f"{user.name} cannot see run {doc.id}: it is not theirs and they lack VIEW on its dataset; ask an admin for access."
        )


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


def run_filters(user: User, mine: bool, dataset_id: str | None) -> dict[str, Any]:
    """The store filters of a Runs-page listing, narrowed to what ``user`` may see."""
    filters: dict[str, Any] = {}
    if mine:
        filters["queued_by"] = user.name
    if dataset_id:
        if not mine and user.dataset_permission(dataset_id) < DatasetPermission.VIEW:
            raise PermissionDenied(
                f"{user.name} has no VIEW permission on dataset {dataset_id}; choose My runs or ask an admin."
            )
        filters["dataset_id"] = dataset_id
    elif not mine and not is_admin(user):
        raise PermissionDenied("Only admins can list the runs of all datasets; choose a dataset or My runs.")
    return filters


def _dataset(doc: DelegatedOperationDocument) -> str | None:
    return str(doc.dataset_id) if doc.dataset_id is not None else None
