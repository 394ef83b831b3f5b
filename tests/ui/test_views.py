"""What the pages show, decided without a server: role mapping, log lines, who may do what."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from bson import ObjectId

from fiftyops_provider.access import run_rules as access
from fiftyops_provider.access.permissions import DatasetPermission, Role
from fiftyops_provider.access.users import User
from fiftyops_provider.plugins.errors import PermissionDenied
from fiftyops_provider.run_actions import read_log
from fiftyops_provider.store import DelegatedOperationDocument
from fiftyops_provider.ui.identity import role_for
from fiftyops_provider.ui.views import log_entries


@pytest.mark.parametrize(
    ("airflow_user", "role"),
    [
        (SimpleNamespace(role="admin"), Role.ADMIN),  # simple auth manager
        (SimpleNamespace(role="Op"), Role.MEMBER),
        (SimpleNamespace(role="user"), Role.COLLABORATOR),
        (SimpleNamespace(role="viewer"), Role.GUEST),
        (
            SimpleNamespace(role=None, roles=[SimpleNamespace(name="Viewer"), SimpleNamespace(name="Admin")]),
            Role.ADMIN,
        ),  # FAB
        (SimpleNamespace(role="data-scientist"), Role.GUEST),
        (SimpleNamespace(), Role.GUEST),
    ],
)
def test_airflow_roles_map_to_the_highest_fiftyops_role(airflow_user, role):
    assert role_for(airflow_user) is role


def test_log_lines_of_airflow_the_executor_and_anything_else():
    text = "\n".join(
        [
            '{"timestamp":"2026-11-22T09:05:19.610520Z","level":"warning","event":"disk almost full","logger":"x"}',
            "2026-11-22 09:05:20,123 ERROR fiftyops.execution: boom",
            "plain print output",
            "",
        ]
    )
    assert log_entries(text) == [
        {"timestamp": "2026-11-22T09:05:19.610520Z", "level": "WARNING", "message": "disk almost full"},
        {"timestamp": "2026-11-22 09:05:20,123", "level": "ERROR", "message": "fiftyops.execution: boom"},
        {"timestamp": None, "level": None, "message": "plain print output"},
    ]


BIRDS = str(ObjectId())


def run_of(owner: str) -> DelegatedOperationDocument:
    return DelegatedOperationDocument(
        operator="@o/p/op", label="op", queued_by=owner, dataset_id=ObjectId(BIRDS), id=ObjectId()
    )


@pytest.mark.parametrize(
    ("user", "view", "change"),
    [
        (User("root", Role.ADMIN), True, True),
        (User("ann", Role.GUEST), True, True),  # the owner
        (User("bo", Role.MEMBER, {BIRDS: DatasetPermission.EDIT}), True, True),
        (User("cy", Role.MEMBER, {BIRDS: DatasetPermission.VIEW}), True, False),
        (User("di", Role.MEMBER), False, False),
    ],
)
def test_who_may_see_and_change_a_run(user, view, change):
    doc = run_of("ann")
    assert (access.can_view(user, doc), access.can_change(user, doc)) == (view, change)


def test_listing_filters_narrow_to_what_the_user_may_see():
    viewer = User("cy", Role.MEMBER, {BIRDS: DatasetPermission.VIEW})
    assert access.run_filters(viewer, mine=False, dataset_id=BIRDS) == {"dataset_id": BIRDS}
    assert access.run_filters(viewer, mine=True, dataset_id=None) == {"queued_by": "cy"}
    with pytest.raises(PermissionDenied, match="choose a dataset or My runs"):
        access.run_filters(viewer, mine=False, dataset_id=None)
    with pytest.raises(PermissionDenied, match="no VIEW permission"):
        access.run_filters(viewer, mine=False, dataset_id=str(ObjectId()))
    assert access.run_filters(User("root", Role.ADMIN), mine=False, dataset_id=None) == {}


def test_a_log_not_on_this_machine_is_read_from_the_database_once_the_run_ended(tmp_path):
    def doc(state: str, log_path: str) -> SimpleNamespace:
        return SimpleNamespace(log_path=log_path, log_tail="tail", is_terminal=state != "running")

    local = tmp_path / "attempt=1.log"
    local.write_text("local file")
    assert read_log(doc("completed", str(local)), lambda: "stored") == ("local file", True)
    assert read_log(doc("completed", "/on/the/worker.log"), lambda: "stored") == ("stored", True)
    assert read_log(doc("running", "/on/the/worker.log"), lambda: "stored") == ("tail", False)
    assert read_log(doc("failed", "/on/the/worker.log"), lambda: None) == ("tail", False)
