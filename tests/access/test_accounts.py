"""FiftyOps user records bound to the sign-in account that created them: an account removed from
the sign-in system loses its record, and a new account reusing the name starts fresh."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from fiftyops_provider.access.permissions import DatasetPermission, Role
from fiftyops_provider.access.users import UserStore
from fiftyops_provider.ui.identity import AccountDirectory, AccountRemoved, fiftyops_user, retire_removed_accounts


@dataclass
class Account:
    """What FiftyOps reads of an Airflow user (``BaseUser``): name, id and role."""

    name: str
    id: str
    role: str = "user"

    def get_name(self) -> str:
        return self.name

    def get_id(self) -> str:
        return self.id


def test_a_new_account_with_an_old_name_starts_fresh(db):
    users = UserStore(db)
    everyone = AccountDirectory(lambda: None)
    rita = fiftyops_user(users, Account("rita", "7"), everyone)
    assert rita.role is Role.COLLABORATOR
    users.set_role("rita", "MEMBER")
    users.grant("rita", "64b7f0000000000000000001", "EDIT")
    again = fiftyops_user(users, Account("rita", "7"), everyone)  # the same account: its record wins
    assert again.role is Role.MEMBER and again.datasets == {"64b7f0000000000000000001": DatasetPermission.EDIT}
    other = fiftyops_user(users, Account("rita", "12", role="viewer"), everyone)  # re-created: a new id
    assert other.role is Role.GUEST and other.datasets == {}


def test_a_record_an_admin_created_before_the_first_sign_in_is_adopted(db):
    users = UserStore(db)
    users.create("olga", "MEMBER")
    users.grant("olga", "64b7f0000000000000000001", "VIEW")
    olga = fiftyops_user(users, Account("olga", "olga", role="viewer"), AccountDirectory(lambda: None))
    assert olga.role is Role.MEMBER and olga.datasets == {"64b7f0000000000000000001": DatasetPermission.VIEW}


def test_a_removed_account_is_refused_and_its_record_retired(db):
    users = UserStore(db)
    names = {"admin", "rita"}
    accounts = AccountDirectory(lambda: set(names), ttl=0)
    fiftyops_user(users, Account("rita", "rita"), accounts)
    users.create("cli-only", "ADMIN")  # never signed in through Airflow: not bound, never retired
    names.discard("rita")
    with pytest.raises(AccountRemoved, match="rita is no longer an Airflow user"):
        fiftyops_user(users, Account("rita", "rita"), accounts)
    assert users.get("rita") is None and users.get("cli-only") is not None
    names.add("rita")  # the name comes back: a fresh record, with the role of the new account
    assert fiftyops_user(users, Account("rita", "rita", role="viewer"), accounts).role is Role.GUEST


def test_the_sweep_retires_every_removed_account(db):
    users = UserStore(db)
    everyone = AccountDirectory(lambda: None)
    for name in ("admin", "rita", "ron"):
        fiftyops_user(users, Account(name, name), everyone)
    assert retire_removed_accounts(users, everyone) == []  # an auth manager that cannot list accounts
    assert sorted(retire_removed_accounts(users, AccountDirectory(lambda: {"admin"}))) == ["rita", "ron"]
    assert [u.name for u in users.list()] == ["admin"]


def test_the_directory_is_read_again_only_after_its_ttl(db):
    reads = []
    accounts = AccountDirectory(lambda: reads.append(1) or {"admin"}, ttl=60)
    assert accounts.exists("admin") and not accounts.exists("rita") and len(reads) == 1
