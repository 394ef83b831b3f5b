"""FiftyOps users: a role each, and per-dataset permissions (admins have MANAGE everywhere).

Stored in ``fiftyops_users`` as ``{_id: name, role, datasets: {<dataset id>: permission}}``;
permissions are keyed by dataset id so renaming a dataset keeps its grants.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from fiftyops_provider.access.permissions import DatasetPermission, Role, parse_dataset_permission, parse_role
from fiftyops_provider.plugins.errors import PermissionDenied, PluginError
from fiftyops_provider.store.documents import utcnow

USERS_COLLECTION = "fiftyops_users"
BOOTSTRAP_ADMIN = "admin"


@dataclass
class User:
    name: str
    role: Role
    datasets: dict[str, DatasetPermission] = field(default_factory=dict)

    def dataset_permission(self, dataset_id: str | None) -> DatasetPermission:
        if self.role is Role.ADMIN:
            return DatasetPermission.MANAGE
        if dataset_id is None:
            return DatasetPermission.NO_ACCESS
        return self.datasets.get(str(dataset_id), DatasetPermission.NO_ACCESS)


class UserStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.collection = db[USERS_COLLECTION]

    def get(self, name: str | None) -> User | None:
        if not name:
            return None
        raw = self.collection.find_one({"_id": name})
        if raw is None:
            return None
        grants = {k: DatasetPermission(v) for k, v in (raw.get("datasets") or {}).items()}
        return User(raw["_id"], Role(raw["role"]), grants)

    def existing(self, name: str) -> User:
        """The user ``name``, who must exist (a clear error otherwise: create them first)."""
        user = self.get(name)
        if user is None:
            raise PluginError(f"No user {name!r}; create it first.")
        return user

    def list(self) -> list[User]:
        return [u for u in (self.get(raw["_id"]) for raw in self.collection.find({}, {"_id": 1}).sort("_id")) if u]

    def create(self, name: str, role: Role | str) -> User:
        if not isinstance(name, str) or not name.strip() or len(name) > 128:
            raise PluginError("A user name must be a non-empty string of at most 128 characters.")
        parsed = parse_role(role)
        try:
            self.collection.insert_one({"_id": name, "role": int(parsed), "datasets": {}, "created_at": utcnow()})
        except DuplicateKeyError:
            raise PluginError(f"User {name!r} already exists; change their role with set_user_role.") from None
        return User(name, parsed)

    def set_role(self, name: str, role: Role | str) -> User:
        parsed = parse_role(role)
        if self.collection.update_one({"_id": name}, {"$set": {"role": int(parsed)}}).matched_count == 0:
            raise PluginError(f"No user {name!r}; create it first.")
        return self.existing(name)

    def grant(self, name: str, dataset_id: str, permission: DatasetPermission | str) -> User:
        parsed = parse_dataset_permission(permission)
        if (
            self.collection.update_one({"_id": name}, {"$set": {f"datasets.{dataset_id}": int(parsed)}}).matched_count
            == 0
        ):
            raise PluginError(f"No user {name!r}; create it first.")
        return self.existing(name)

    def require_admin(self, acting_user: str | None) -> User:
        """The acting user (argument, else ``FIFTYOPS_USER``), who must be an admin.

        :param acting_user: the user's name; None reads ``FIFTYOPS_USER``."""
        name = acting_user or os.environ.get("FIFTYOPS_USER") or None
        user = self.get(name)
        if user is None or user.role is not Role.ADMIN:
            who = f"user {name!r}" if name else "no acting user (set FIFTYOPS_USER or pass acting_user)"
            raise PermissionDenied(f"Only admins may manage plugins and users; {who} is not an admin.")
        return user

    def is_empty_installation(self) -> bool:
        """No FiftyOps user and no plugin yet. A database FiftyOps shares with FiftyOne may hold
        FiftyOne's datasets and runs: it is still empty for FiftyOps."""
        from fiftyops_provider.plugins.registry import PLUGINS_COLLECTION

        return self.collection.count_documents({}, limit=1) == 0 and (
            self.db[PLUGINS_COLLECTION].count_documents({}, limit=1) == 0
        )

    @contextmanager
    def admin_action(self, acting_user: str | None) -> Iterator[User]:
        """The acting admin for the length of one admin command (``with users.admin_action(n) as
        admin: ...``). On an empty installation the acting user (default ``admin``) acts as the
        bootstrap admin, and is recorded as such only when the command succeeded: a refused or
        failing command never makes anyone an admin.

        :param acting_user: the user's name; None reads ``FIFTYOPS_USER``."""
        name = acting_user or os.environ.get("FIFTYOPS_USER") or None
        if self.get(name) is not None or not self.is_empty_installation():
            yield self.require_admin(name)
            return
        bootstrap = User(name or BOOTSTRAP_ADMIN, Role.ADMIN)
        yield bootstrap
        try:
            self.collection.insert_one(
                {"_id": bootstrap.name, "role": int(Role.ADMIN), "datasets": {}, "created_at": utcnow()}
            )
        except DuplicateKeyError:
            pass  # the command itself created this user (``users create admin --role ADMIN``)
