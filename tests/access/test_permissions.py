"""The permission matrix: every role x dataset permission x operator minimums."""

from __future__ import annotations

import itertools

import pytest

import fiftyops_provider.management as fom
from fiftyops_provider.access.permissions import DatasetPermission, Role
from fiftyops_provider.datasets.catalog import create_dataset
from fiftyops_provider.plugins import PermissionDenied
from tests.plugins.conftest import write_plugin


@pytest.fixture
def world(registry, db, tmp_path):
    """One user per (role, dataset permission) pair on dataset ``d``."""
    registry.install(write_plugin(tmp_path / "p"))
    dataset = create_dataset(db, "d")
    for role, perm in itertools.product(Role, DatasetPermission):
        name = f"{role.name}-{perm.name}"
        registry.users.create(name, role)
        registry.users.grant(name, dataset.id, perm)
    return registry, dataset


@pytest.mark.parametrize("min_role", list(Role))
@pytest.mark.parametrize("min_perm", list(DatasetPermission))
def test_matrix(world, min_role, min_perm):
    registry, dataset = world
    registry.set_operator("@test/demo", "double", minimum_role=min_role, minimum_dataset_permission=min_perm)
    for role, perm in itertools.product(Role, DatasetPermission):
        effective = DatasetPermission.MANAGE if role is Role.ADMIN else perm
        allowed = role >= min_role and effective >= min_perm
        try:
            registry.check_runnable("@test/demo/double", f"{role.name}-{perm.name}", dataset.id, dataset.name)
            granted = True
        except PermissionDenied:
            granted = False
        assert granted == allowed, (role, perm, min_role, min_perm)


def test_unknown_user_runs_only_operators_open_to_everyone(world):
    registry, dataset = world
    with pytest.raises(PermissionDenied, match="Unknown user"):
        registry.check_runnable("@test/demo/double", "stranger", dataset.id, dataset.name)
    registry.set_operator("@test/demo", "double", minimum_role="GUEST", minimum_dataset_permission="NO_ACCESS")
    registry.check_runnable("@test/demo/double", None, dataset.id, dataset.name)


def test_grants_survive_a_dataset_rename(world):
    registry, dataset = world
    dataset.rename("renamed")
    registry.check_runnable("@test/demo/double", "MEMBER-EDIT", dataset.id, "renamed")


def test_role_change_takes_effect(world, admin):
    registry, dataset = world
    fom.set_user_role("MEMBER-EDIT", fom.GUEST)
    with pytest.raises(PermissionDenied, match="is GUEST"):
        registry.check_runnable("@test/demo/double", "MEMBER-EDIT", dataset.id, dataset.name)
    fom.grant_dataset_permission("GUEST-VIEW", "d", fom.MANAGE)
    fom.set_user_role("GUEST-VIEW", "member")
    registry.check_runnable("@test/demo/double", "GUEST-VIEW", dataset.id, dataset.name)
