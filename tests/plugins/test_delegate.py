"""delegate(): what a user gets when queueing, and refusals that write nothing."""

from __future__ import annotations

import pytest

from fiftyops_provider import delegate
from fiftyops_provider.plugins import InvalidParams, OperatorDisabled, OperatorNotFound, PermissionDenied
from fiftyops_provider.plugins.datasets import DatasetNotFound, create_dataset
from fiftyops_provider.store import ExecutionRunState as S
from tests.plugins.conftest import write_plugin


@pytest.fixture
def setup(registry, db, tmp_path):
    registry.install(write_plugin(tmp_path / "p", operators=("double", "triple")))
    registry.install(write_plugin(tmp_path / "nd", name="@test/immediate", delegated=False))
    dataset = create_dataset(db, "quickstart")
    registry.users.create("viewer", "MEMBER")
    registry.users.grant("viewer", dataset.id, "VIEW")
    registry.users.create("guest", "GUEST")
    return registry, db


def _snapshot(db):
    return {name: list(db[name].find({}, {"_id": 1}).sort("_id")) for name in ("delegated_ops",)}


def test_delegate_queues_with_inputs_schema_user_and_dataset(setup):
    registry, db = setup
    doc = delegate("@test/demo/double", dataset="quickstart", params={"n": 4}, user="root")
    assert doc.run_state is S.SCHEDULED and doc.queued_by == "root"
    assert doc.params == {"n": 4, "note": "hi"}  # defaults filled in
    assert doc.dataset_name == "quickstart" and str(doc.dataset_id) == doc.request_params["dataset_id"]
    assert doc.metadata["inputs_schema"]["required"] == ["n"]
    assert doc.label == "Double"


REFUSALS = [
    (dict(operator_uri="@test/demo/nope", params={"n": 1}), OperatorNotFound, "does not exist"),
    (dict(operator_uri="not-a-uri", params={"n": 1}), OperatorNotFound, "not an operator URI"),
    (dict(operator_uri="@test/immediate/double", params={"n": 1}), OperatorDisabled, "delegated execution"),
    (dict(operator_uri="@test/demo/double", params={}), InvalidParams, "n: required"),
    (dict(operator_uri="@test/demo/double", params={"n": "four"}), InvalidParams, "expected integer"),
    (dict(operator_uri="@test/demo/double", params={"n": True}), InvalidParams, "got boolean"),
    (dict(operator_uri="@test/demo/double", params={"n": 1, "evil": {"$where": 1}}), InvalidParams, "unknown input"),
    (dict(operator_uri="@test/demo/double", params=[1, 2]), InvalidParams, "must be a dict"),
    (dict(operator_uri="@test/demo/double", params={"n": 1}, user="viewer"), PermissionDenied, "needs EDIT"),
    (dict(operator_uri="@test/demo/double", params={"n": 1}, user="guest"), PermissionDenied, "needs MEMBER"),
    (dict(operator_uri="@test/demo/double", params={"n": 1}, user="nobody"), PermissionDenied, "Unknown user"),
    (dict(operator_uri="@test/demo/double", params={"n": 1}, dataset="missing"), DatasetNotFound, "does not exist"),
]


@pytest.mark.parametrize("kwargs,error,message", REFUSALS)
def test_refusals_write_nothing(setup, kwargs, error, message):
    registry, db = setup
    kwargs = {"dataset": "quickstart", "user": "root", **kwargs}
    before = _snapshot(db)
    with pytest.raises(error, match=message):
        delegate(**kwargs)
    assert _snapshot(db) == before


def test_disabled_operator_is_refused(setup):
    registry, db = setup
    registry.set_operator("@test/demo", "triple", enabled=False)
    with pytest.raises(OperatorDisabled):
        delegate("@test/demo/triple", dataset="quickstart", params={"n": 1}, user="root")
    assert db.delegated_ops.count_documents({}) == 0
