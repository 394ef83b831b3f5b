"""Who is logged in to Airflow, as a FiftyOps user.

An Airflow user is a FiftyOps user of the same name. If no FiftyOps user of that name exists yet,
the first request creates one whose role follows the Airflow role (``AIRFLOW_ROLE_TO_ROLE``);
from then on the FiftyOps record wins, so an admin can promote, demote and grant datasets with
the Management SDK or ``fiftyops users`` without touching Airflow.

A token outlives the account it was issued to (Airflow checks its signature and expiry, not
whether the user still exists), so every call also asks whether the account is still in the auth
manager (``AccountDirectory``, re-read at most every few seconds). The FiftyOps record is bound to
the Airflow account (``UserStore.bind``): a removed account's record is retired, and a new account
with the same name starts fresh.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from fiftyops_provider.access.permissions import Role
from fiftyops_provider.access.users import User, UserStore
from fiftyops_provider.plugins.errors import PluginError

ACCOUNT_CACHE_SECONDS = 10.0

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


class AccountRemoved(PluginError):
    """The caller's token is valid but its account is no longer in Airflow's auth manager."""


class AccountDirectory:
    """The account names the auth manager has now, re-read at most every ``ttl`` seconds.

    ``list_names`` returns None when the auth manager cannot list its accounts; every account is
    then taken to exist (such auth managers look the user up themselves when reading a token).
    """

    def __init__(self, list_names: Callable[[], set[str] | None], ttl: float = ACCOUNT_CACHE_SECONDS) -> None:
        self.list_names = list_names
        self.ttl = ttl
        self._names: set[str] | None = None
        self._read_at = float("-inf")

    def names(self) -> set[str] | None:
        if time.monotonic() - self._read_at >= self.ttl:
            self._names, self._read_at = self.list_names(), time.monotonic()
        return self._names

    def exists(self, name: str) -> bool:
        names = self.names()
        return names is None or name in names


def retire_removed_accounts(users: UserStore, accounts: AccountDirectory) -> list[str]:
    """Retire the FiftyOps records of accounts the auth manager no longer has (their names,
    if reused, start fresh); returns the names retired."""
    names = accounts.names()
    if names is None:
        return []
    return [name for name in users.bound_names() if name not in names and users.retire(name)]


def fiftyops_user(users: UserStore, airflow_user: Any, accounts: AccountDirectory) -> User:
    """The FiftyOps user for this Airflow user, created on first sight; ``AccountRemoved`` if the
    account no longer exists (its record is retired)."""
    name = airflow_user.get_name()
    if not accounts.exists(name):
        users.retire(name)
        raise AccountRemoved(f"{name} is no longer an Airflow user; log in again with a current account.")
    return users.bind(name, str(airflow_user.get_id()), role_for(airflow_user))
