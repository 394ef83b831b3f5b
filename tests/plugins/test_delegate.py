"""delegate(): what a user gets when queueing, and refusals that write nothing."""

from __future__ import annotations

import pytest
from bson import ObjectId

from fiftyops_provider import delegate
from fiftyops_provider.datasets.catalog import DatasetNotFound, create_dataset, load_dataset
from fiftyops_provider.plugins import InvalidParams, InvalidPlugin, OperatorDisabled, OperatorNotFound, PermissionDenied
from fiftyops_provider.store import ExecutionRunState as S
from tests.plugins.conftest import write_plugin

PIPE_PLUGIN = """
from fiftyops_provider.plugins import Inputs, Operator, OperatorConfig, Pipeline, PipelineOperator


class Pipe(PipelineOperator):
    @property
    def config(self):
        return OperatorConfig(name="pipe", allow_delegated_execution=True, rerunnable=False)

    def resolve_input(self, ctx):
        return Inputs().list("stages", required=True).bool("broken", default=False)

    def resolve_pipeline(self, ctx):
        if ctx.params["broken"]:
            return ["not", "a", "pipeline"]
        pipeline = Pipeline()
        for uri, params in ctx.params["stages"]:
            pipeline.stage(uri, params=params)
        return pipeline


class Dyn(Operator):
    # Inputs and run name computed from the dataset.

    @property
    def config(self):
        return OperatorConfig(name="dyn", allow_delegated_execution=True)

    def resolve_input(self, ctx):
        fields = sorted({key for sample in ctx.dataset for key in sample if key != "_id"})
        return Inputs().enum("field", fields, required=True)

    def resolve_run_name(self, ctx):
        return f"dyn on {ctx.dataset.name}"

    def execute(self, ctx):
        return {}


def register(p):
    p.register(Pipe)
    p.register(Dyn)
"""


@pytest.fixture
def setup(registry, db, tmp_path):
    registry.install(write_plugin(tmp_path / "p", operators=("double", "triple")))
    registry.install(write_plugin(tmp_path / "nd", name="@test/immediate", delegated=False))
    registry.install(
        write_plugin(tmp_path / "pipe", name="@test/pipe", operators=("pipe", "dyn"), entry_code=PIPE_PLUGIN)
    )
    dataset = create_dataset(db, "quickstart")
    dataset.add_samples([{"filepath": "/a.jpg", "kind": "cat"}])
    registry.users.create("viewer", "MEMBER")
    registry.users.grant("viewer", dataset.id, "VIEW")
    registry.users.create("editor", "MEMBER")
    registry.users.grant("editor", dataset.id, "EDIT")
    registry.users.create("guest", "GUEST")
    return registry, db


def _snapshot(db):
    """Every collection of the database: its documents and its indexes."""
    return {
        name: (list(db[name].find({}).sort("_id")), db[name].index_information())
        for name in sorted(db.list_collection_names())
    }


def test_delegate_queues_with_inputs_schema_user_and_dataset(setup):
    _registry, _db = setup
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
    (
        dict(operator_uri="@test/pipe/dyn", params={"field": "color"}),
        InvalidParams,
        r"must be one of \['created_at', 'filepath', 'kind', 'last_modified_at', 'tags'\]",
    ),
    (
        dict(operator_uri="@test/pipe/pipe", params={"stages": [["@test/demo/gone", {"n": 1}]]}),
        OperatorNotFound,
        "gone",
    ),
    (
        dict(
            operator_uri="@test/pipe/pipe",
            params={"stages": [["@test/demo/double", {"n": 1}], ["@test/demo/triple", {"n": "x"}]]},
        ),
        InvalidParams,
        r"stage\[1\] @test/demo/triple: n: expected integer",
    ),
    (
        dict(operator_uri="@test/pipe/pipe", params={"stages": [["@test/demo/double", {}]]}),
        InvalidParams,
        r"stage\[0\].*n: required",
    ),
    (
        dict(operator_uri="@test/pipe/pipe", params={"stages": [["@test/pipe/pipe", {"stages": []}]]}),
        InvalidPlugin,
        "nesting",
    ),
    (
        dict(operator_uri="@test/pipe/pipe", params={"stages": [], "broken": True}),
        InvalidPlugin,
        "must return a Pipeline",
    ),
    (dict(operator_uri="@test/pipe/pipe", params={"stages": []}), InvalidPlugin, "at least one stage"),
    (
        dict(operator_uri="@test/pipe/pipe", params={"stages": [["@test/immediate/double", {"n": 1}]]}),
        OperatorDisabled,
        "delegated execution",
    ),
]


@pytest.mark.parametrize("kwargs,error,message", REFUSALS)
def test_refusals_write_nothing(setup, kwargs, error, message):
    _registry, db = setup
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


def test_a_stage_the_user_may_not_run_refuses_the_pipeline(setup):
    registry, db = setup
    registry.set_operator("@test/demo", "triple", minimum_role="ADMIN")
    stages = [["@test/demo/double", {"n": 1}], ["@test/demo/triple", {"n": 1}]]
    before = _snapshot(db)
    with pytest.raises(PermissionDenied, match="triple needs ADMIN"):
        delegate("@test/pipe/pipe", dataset="quickstart", params={"stages": stages}, user="editor")
    assert _snapshot(db) == before
    doc = delegate("@test/pipe/pipe", dataset="quickstart", params={"stages": stages[:1]}, user="editor")
    assert doc.queued_by == "editor"


def test_pipeline_is_stored_with_stage_rerunnable_resolved(setup):
    stages = [["@test/demo/double", {"n": 2}], ["@test/demo/triple", {"n": 3}]]
    doc = delegate("@test/pipe/pipe", dataset="quickstart", params={"stages": stages}, user="root")
    assert [(s["operator_uri"], s["params"], s["rerunnable"]) for s in doc.pipeline["stages"]] == [
        ("@test/demo/double", {"n": 2}, True),
        ("@test/demo/triple", {"n": 3}, True),
    ]
    assert doc.rerunnable is False  # from the pipeline operator's own config


def test_inputs_and_run_name_may_use_the_dataset(setup):
    doc = delegate("@test/pipe/dyn", dataset="quickstart", params={"field": "kind"}, user="root")
    assert doc.label == "dyn on quickstart"
    assert doc.metadata["inputs_schema"]["properties"]["field"]["enum"] == [
        "created_at",
        "filepath",
        "kind",
        "last_modified_at",
        "tags",
    ]  # a sample's fields, FiftyOne's public ones included


def test_dataset_may_be_given_by_object_or_id(setup):
    _registry, db = setup
    dataset = load_dataset(db, None, "quickstart")
    for given in (dataset, ObjectId(dataset.id)):
        doc = delegate("@test/demo/double", dataset=given, params={"n": 1}, user="root")
        assert (doc.dataset_name, str(doc.dataset_id)) == ("quickstart", dataset.id)


def test_a_refusal_on_a_fresh_database_creates_no_collection(registry, db, tmp_path):
    registry.install(write_plugin(tmp_path / "p"))
    before = _snapshot(db)
    assert "datasets" not in before and "delegated_ops" not in before
    with pytest.raises(DatasetNotFound):
        delegate("@test/demo/double", dataset="nowhere", params={"n": 1}, user="root")
    with pytest.raises(InvalidParams):
        delegate("@test/demo/double", params={"n": "x"}, user="root")
    assert _snapshot(db) == before
