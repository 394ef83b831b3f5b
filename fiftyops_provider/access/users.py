"""FiftyOps users: a role each, and per-dataset permissions (admins have MANAGE everywhere).

Stored in ``fiftyops_users`` as ``{_id: name, role, datasets: {<dataset id>: permission}, identity}``;
permissions are keyed by dataset id so renaming a dataset keeps its grants. Dataset ids are
ObjectIds, whose hex MongoDB and bson accept in either case: they are compared in their canonical
lower-case form everywhere (grants, lookups, run filters), like run ids.

``identity`` ties a record to the account of the sign-in system that created it (e.g. Airflow's
auth manager): a record bound to an account that was removed is retired, and a new account that
reuses the name starts with a fresh record instead of inheriting the old role and grants.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from bson import ObjectId
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from fiftyops_provider.access.permissions import DatasetPermission, Role, parse_dataset_permission, parse_role
from fiftyops_provider.plugins.errors import PermissionDenied, PluginError
from fiftyops_provider.store.documents import utcnow

USERS_COLLECTION = "fiftyops_users"
BOOTSTRAP_ADMIN = "admin"


def dataset_key(dataset_id: object) -> str:
    """The form a dataset id is compared in: an ObjectId's lower-case hex, anything else as given."""
    text = str(dataset_id)
    return str(ObjectId(text)) if ObjectId.is_valid(text) else text


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
        return self.datasets.get(dataset_key(dataset_id), DatasetPermission.NO_ACCESS)


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
        grants = {dataset_key(k): DatasetPermission(v) for k, v in (raw.get("datasets") or {}).items()}
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
        dataset_id = dataset_key(dataset_id)
        if (
            self.collection.update_one({"_id": name}, {"$set": {f"datasets.{dataset_id}": int(parsed)}}).matched_count
            == 0
        ):
            raise PluginError(f"No user {name!r}; create it first.")
        return self.existing(name)

    def bind(self, name: str, identity: str, role: Role) -> User:
        """The record of ``name`` for the account ``identity``, which signs in under that name.

        A record without an identity (created by an admin with ``fiftyops users`` before the
        account's first sign-in) is adopted as it is. A record bound to another identity belonged
        to an earlier account of the same name: it is replaced by a fresh one. No record: one is
        created with ``role``.

        :param name: the user name the account signs in with.
        :param identity: what distinguishes this account from an earlier one of the same name.
        :param role: the role of a record created (or replaced) now.
        """
        for _ in range(3):  # a concurrent first sign-in may create or replace the record meanwhile
            raw = self.collection.find_one({"_id": name}, {"identity": 1})
            if raw is None:
                try:
                    self.collection.insert_one(
                        {"_id": name, "role": int(role), "datasets": {}, "identity": identity, "created_at": utcnow()}
                    )
                except DuplicateKeyError:
                    continue
            elif raw.get("identity") is None:
                self.collection.update_one({"_id": name, "identity": None}, {"$set": {"identity": identity}})
            elif raw["identity"] != identity:
                fresh = {"role": int(role), "datasets": {}, "identity": identity, "created_at": utcnow()}
                self.collection.replace_one({"_id": name, "identity": raw["identity"]}, fresh)
            user = self.get(name)
            if user is not None and self.collection.count_documents({"_id": name, "identity": identity}, limit=1):
                return user
        raise PluginError(f"The record of user {name!r} kept changing while signing in; try again.")

    def retire(self, name: str) -> bool:
        """Delete ``name``'s record if it is bound to an account (the account was removed), so a
        later account of the same name starts fresh. Records an admin created for a name that has
        not signed in yet are kept."""
        return self.collection.delete_one({"_id": name, "identity": {"$ne": None}}).deleted_count == 1

    def bound_names(self) -> set[str]:
        """Names whose records are bound to a sign-in account."""
        return {raw["_id"] for raw in self.collection.find({"identity": {"$ne": None}}, {"_id": 1})}

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
