"""The executor with its default operator source, the real plugin registry: a plugin written here,
installed into GridFS, queued with ``delegate()`` by a user with a dataset permission, and run
in a child process that materializes the plugin from GridFS into its own cache."""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

import pytest

from fiftyops_provider.datasets.catalog import create_dataset
from fiftyops_provider.execution import DEFAULT_OPERATOR_SOURCE, Executor, OutcomeState
from fiftyops_provider.plugins.delegate import delegate
from fiftyops_provider.plugins.registry import PluginRegistry
from fiftyops_provider.store import ExecutionRunState as S

PLUGIN = "@acme/labels"
TOKEN = "acme-t0ken-value-9"

ENTRY = """
import hashlib

from fiftyops_provider.plugins import Inputs, Operator, OperatorConfig


class LabelSamples(Operator):
    @property
    def config(self):
        return OperatorConfig(name="label_samples", allow_delegated_execution=True, execution_timeout=30)

    def resolve_input(self, ctx):
        return Inputs().str("label", required=True)

    def resolve_output(self, ctx):
        return Inputs().int("labeled")

    def execute(self, ctx):
        token = ctx.secret("ACME_TOKEN")
        print(f"calling the labeling service with {token}")
        samples = list(ctx.dataset)
        for i, sample in enumerate(samples):
            ctx.check_for_termination()
            ctx.dataset.set_field(sample["_id"], "label", ctx.params["label"])
            ctx.set_progress((i + 1) / len(samples), f"{i + 1}/{len(samples)} samples")
        return {
            "labeled": len(samples),
            "dataset": ctx.dataset.name,
            "token_sha256": hashlib.sha256(token.encode()).hexdigest(),
            "secrets": sorted(ctx.secrets),
        }


def register(p):
    p.register(LabelSamples)
"""


@pytest.fixture
def installed(db, tmp_path, monkeypatch):
    """The plugin installed by an admin (from a cache the child will not see), a dataset with
    three samples, and alice, a MEMBER with EDIT on it."""
    monkeypatch.setenv("FIFTYOPS_USER", "root")
    plugin_dir = tmp_path / "plugin-src"
    plugin_dir.mkdir()
    (plugin_dir / "fiftyone.yml").write_text(
        f'name: "{PLUGIN}"\nversion: "1.0"\noperators:\n  - label_samples\nsecrets:\n  - ACME_TOKEN\n'
    )
    (plugin_dir / "__init__.py").write_text(textwrap.dedent(ENTRY))
    registry = PluginRegistry(db, cache_dir=tmp_path / "installer-cache")
    registry.install(plugin_dir)
    dataset = create_dataset(db, "birds")
    dataset.add_samples([{"filepath": f"/data/{i}.jpg"} for i in range(3)])
    registry.users.create("alice", "MEMBER")
    registry.users.grant("alice", dataset.id, "EDIT")
    return registry, dataset


def _queue(service, db):
    doc = delegate(f"{PLUGIN}/label_samples", dataset="birds", params={"label": "bird"}, user="alice", db=db)
    return service.set_queued(doc.id, required_state=S.SCHEDULED)


def _executor(service) -> Executor:
    return Executor(
        service,
        secrets={"ACME_TOKEN": TOKEN, "OTHER_TOKEN": "x"},
        heartbeat_interval=0.2,
        termination_grace=1.0,
        progress_interval=0.1,
    )


def test_a_registry_plugin_runs_end_to_end(service, db, installed, tmp_path):
    _registry, dataset = installed
    doc = _queue(service, db)

    outcome = _executor(service).run(doc.id)

    assert _executor(service).source_spec == DEFAULT_OPERATOR_SOURCE
    assert outcome.state is OutcomeState.COMPLETED, outcome.error
    assert outcome.result == {
        "labeled": 3,
        "dataset": "birds",
        "token_sha256": hashlib.sha256(TOKEN.encode()).hexdigest(),
        "secrets": ["ACME_TOKEN"],
    }
    assert [s["label"] for s in dataset] == ["bird"] * 3
    stored = service.get(doc.id)
    assert stored.metadata["outputs_schema"]["properties"]["labeled"]["type"] == "integer"
    assert stored.status.progress == 1.0 and stored.status.label == "3/3 samples"
    log = Path(stored.log_path).read_text()
    assert "calling the labeling service with ***" in log and TOKEN not in log
    home_cache = tmp_path / "fiftyops-home" / "plugins"
    assert any(home_cache.iterdir())  # materialized from GridFS by the executor's own registry


def test_a_permission_revoked_after_queueing_fails_the_run(service, db, installed):
    registry, dataset = installed
    doc = _queue(service, db)
    registry.users.grant("alice", dataset.id, "VIEW")

    outcome = _executor(service).run(doc.id)

    assert outcome.state is OutcomeState.FAILED and outcome.pid is None
    assert outcome.error_message == (
        f"Operation {doc.id} cannot run {PLUGIN}/label_samples: User alice has VIEW on dataset birds; "
        f"operator {PLUGIN}/label_samples needs EDIT or higher."
    )
    assert all("label" not in s for s in dataset)


def test_an_operator_disabled_after_queueing_fails_the_run(service, db, installed):
    registry, _ = installed
    doc = _queue(service, db)
    registry.set_operator(PLUGIN, "label_samples", enabled=False)

    outcome = _executor(service).run(doc.id)

    assert outcome.state is OutcomeState.FAILED
    assert outcome.error_message.endswith(f"Operator {PLUGIN}/label_samples is disabled; an admin can enable it.")


NOOP_ENTRY = """
from fiftyops_provider.plugins import Operator, OperatorConfig


class Noop(Operator):
    @property
    def config(self):
        return OperatorConfig(name="noop", allow_delegated_execution=True)

    def execute(self, ctx):
        return {"ok": True}


def register(p):
    p.register(Noop)
"""


def test_a_forked_child_whose_operator_reads_no_dataset_opens_no_mongodb_connection(
    service, db, installed, tmp_path, monkeypatch
):
    """The executor hands the forked child the operator it loaded and checked, and the child
    connects only when something reads the database: a short operator costs MongoDB no new
    connection (it was a client, a topology discovery and a registry read per run)."""
    monkeypatch.setenv("FIFTYOPS_CHILD_START", "fork")
    plugin_dir = tmp_path / "noop-src"
    plugin_dir.mkdir()
    (plugin_dir / "fiftyone.yml").write_text('name: "@acme/noop"\nversion: "1.0"\noperators:\n  - noop\n')
    (plugin_dir / "__init__.py").write_text(textwrap.dedent(NOOP_ENTRY))
    installed[0].install(plugin_dir)
    executor = _executor(service)

    def run_once() -> None:
        doc = delegate("@acme/noop/noop", dataset="birds", user="alice", db=db)
        service.set_queued(doc.id, required_state=S.SCHEDULED)
        assert executor.run(doc.id).state is OutcomeState.COMPLETED

    def connections_created() -> int:
        return db.client.admin.command("serverStatus")["connections"]["totalCreated"]

    run_once()  # the executor's own connection pool is warm
    before = connections_created()
    for _ in range(3):
        run_once()

    assert connections_created() - before < 3
