"""Who is logged in to Airflow, as a FiftyOps user.

An Airflow user is a FiftyOps user of the same name. If no FiftyOps user of that name exists yet,
the first request creates one whose role follows the Airflow role (``AIRFLOW_ROLE_TO_ROLE``);
from then on the FiftyOps record wins, so an admin can promote, demote and grant datasets with
the Management SDK or ``fiftyops users`` without touching Airflow.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fiftyops_provider.access.permissions import Role
from fiftyops_provider.access.users import User, UserStore
from fiftyops_provider.plugins.errors import PluginError

AIRFLOW_ROLE_TO_ROLE = {
    "admin": Role.ADMIN,
    "op": Role.MEMBER,
    "user": Role.COLLABORATOR,
    "viewer": Role.GUEST,
}
"""Airflow's built-in roles (simple auth manager's ``role``, FAB's role names, lower-cased). Any
other role maps to GUEST: it sees its own runs and nothing else until granted more."""


def airflow_role_names(airflow_user: Any) -> list[str]:
    """The role names of an Airflow user: the simple auth manager has ``role``, FAB has ``roles``."""
    names: Iterable[Any] = [getattr(airflow_user, "role", None)]
    names = [*names, *(getattr(role, "name", role) for role in getattr(airflow_user, "roles", None) or [])]
    return [str(name).lower() for name in names if name]


def role_for(airflow_user: Any) -> Role:
    """The highest FiftyOps role any of the user's Airflow roles maps to."""
    return max(
        (AIRFLOW_ROLE_TO_ROLE.get(name, Role.GUEST) for name in airflow_role_names(airflow_user)), default=Role.GUEST
    )


def fiftyops_user(users: UserStore, airflow_user: Any) -> User:
    """The FiftyOps user for this Airflow user, created on first sight."""
    name = airflow_user.get_name()
    user = users.get(name)
    if user is not None:
        return user
    try:
        return users.create(name, role_for(airflow_user))
    except PluginError:  # created by a concurrent request
        return users.existing(name)
