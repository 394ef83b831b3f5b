"""The hostile-input corpus in one place: every case is refused with a clear error of the
project's own types, and a snapshot of the whole store (every collection's documents and indexes,
GridFS included, and the plugin cache directory) proves nothing changed.

The cases come from the focused tests of each layer (imported, not copied) plus ids, permissions
and oversized values; one installation serves them all, snapshotted around each case. Plugins
whose code hangs or exits at install, and names that cannot become a unique Airflow DAG id, are
among them.

The second half is hostile operators and what they try to leak (issue 15): the launcher's
environment and credentials, forked or spawned; secrets split across the output pump's reads,
multi-line secrets, secrets in progress labels, results and errors; and what the dispatch
triggers would store in Airflow's trigger table. Each must leak nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fiftyops_provider.datasets.catalog import create_dataset
from fiftyops_provider.plugins import InvalidParams, InvalidPlugin, PermissionDenied, PluginError
from fiftyops_provider.plugins.delegate import delegate
from fiftyops_provider.run_actions import RunActions, RunQuery
from fiftyops_provider.store import InvalidOperation, InvalidQuery, OperationNotFound, StoreError
from tests.execution.test_child_environment import run_snoop
from tests.execution.test_observability import PEM, TOKEN
from tests.plugins.conftest import write_plugin
from tests.plugins.test_delegate import REFUSALS, _snapshot
from tests.plugins.test_hostile_archives import ARCHIVE_CASES, _good_entries, _zip
from tests.plugins.test_install_isolation import HANGING
from tests.store.test_bad_input import BAD_QUEUE_ARGS, HOSTILE_LIST_ARGS

Case = tuple[str, Callable[[Any], Any], type[Exception], str]  # (name, action(ctx), error, message)


class Context:
    def __init__(self, registry, db, service, tmp_path) -> None:
        self.registry, self.db, self.service, self.tmp_path = registry, db, service, tmp_path
        # root's run on quickstart, for the run commands of users who may not touch it
        self.run = delegate("@test/demo/double", dataset="quickstart", params={"n": 1}, user="root")
        create_dataset(db, "日本")

    def runs_of(self, name: str | None) -> RunActions:
        """The run commands as ``name`` (None: no acting user), as the CLI and SDK build them."""
        return RunActions.acting_as(self.db, name)


# (what, action on the run) for every run command: a stranger must be refused each
RUN_COMMANDS: list[tuple[str, Callable[[RunActions, Any], Any]]] = [
    ("info", lambda runs, run: runs.get(run.id)),
    ("logs", lambda runs, run: runs.log(run.id)),
    ("fail", lambda runs, run: runs.mark_failed(run.id)),
    ("terminate", lambda runs, run: runs.terminate(run.id)),
    ("delete", lambda runs, run: runs.delete(run.id)),
    ("label", lambda runs, run: runs.set_label(run.id, "mine")),
    ("pin", lambda runs, run: runs.set_pinned(run.id)),
    ("archive", lambda runs, run: runs.set_archived(run.id)),
    ("rerun", lambda runs, run: runs.rerun(run.id)),
]


def corpus() -> list[Case]:
    cases: list[Case] = []
    for name in sorted(ARCHIVE_CASES):
        cases.append(
            (
                f"archive: {name}",
                lambda c, n=name: c.registry.install(
                    _zip(c.tmp_path, ARCHIVE_CASES[n](_good_entries(c.tmp_path))), overwrite=True
                ),
                InvalidPlugin,
                "",
            )
        )
    for kwargs, message in HOSTILE_LIST_ARGS:
        cases.append(
            (f"filter: {str(kwargs)[:60]}", lambda c, k=kwargs: c.service.list_operations(**k), InvalidQuery, message)
        )
    for kwargs, message in BAD_QUEUE_ARGS:
        cases.append(
            (f"queue: {str(kwargs)[:60]}", lambda c, k=kwargs: c.service.queue_operation(**k), StoreError, message)
        )
    for kwargs, error, message in REFUSALS:
        cases.append(
            (
                f"params/permissions: {str(kwargs)[:60]}",
                lambda c, k=kwargs: delegate(**{"dataset": "quickstart", "user": "root", **k}),
                error,
                message,
            )
        )
    for what, command in RUN_COMMANDS:
        cases.append(
            (
                f"run command by a stranger: {what}",
                lambda c, f=command: f(c.runs_of("guest"), c.run),
                OperationNotFound,  # a run one may not see does not exist for them
                "No delegated operation",
            )
        )
        cases.append(
            (f"run command by nobody: {what}", lambda c, f=command: f(c.runs_of(None), c.run), PermissionDenied, "")
        )
    cases += [
        (
            "run command: a viewer reruns what they may not queue",
            lambda c: c.runs_of("viewer").rerun(c.run.id),
            PermissionDenied,
            "needs EDIT",
        ),
        (
            "run command: a stranger lists someone else's runs",
            lambda c: c.runs_of("guest").page(RunQuery(queued_by="root")),
            PermissionDenied,
            "Only admins",
        ),
        (
            "params: NaN against a bound",
            lambda c: delegate("@test/demo/double", dataset="quickstart", params={"n": float("nan")}, user="root"),
            InvalidParams,
            "expected integer",
        ),
        (
            "params: $ key inside an object input",
            lambda c: c.service.queue_operation(
                "@o/p/op", context={"request_params": {"params": {"o": {"x": {"$gt": 1}}}}}
            ),
            InvalidOperation,
            "cannot start with",
        ),
        (
            "dataset: a second non-ASCII name with the same characters",
            lambda c: create_dataset(c.db, "日本"),
            PluginError,
            "already exists",
        ),
        (
            "paging: skip beyond 64 bits",
            lambda c: c.runs_of("root").page(RunQuery(skip=99999999999999999999)),
            InvalidQuery,
            "skip must be at most",
        ),
        ("id: not an ObjectId", lambda c: c.service.get("not-an-id"), StoreError, "not-an-id"),
        ("id: a query operator", lambda c: c.service.get({"$gt": ""}), StoreError, "ObjectId"),
        (
            "id: unknown",
            lambda c: c.service.delete_operation("64b7f0000000000000000000"),
            StoreError,
            "64b7f0000000000000000000",
        ),
        (
            "id: terminate unknown",
            lambda c: c.service.terminate("64b7f0000000000000000000"),
            StoreError,
            "64b7f0000000000000000000",
        ),
        (
            "permission: non-admin disables a plugin",
            lambda c: c.registry.set_enabled("@test/demo", False, acting_user="editor"),
            PermissionDenied,
            "not an admin",
        ),
        (
            "permission: non-admin uninstalls",
            lambda c: c.registry.uninstall("@test/demo", acting_user="guest"),
            PermissionDenied,
            "not an admin",
        ),
        (
            "permission: non-admin lowers an operator's role",
            lambda c: c.registry.set_operator("@test/demo", "double", minimum_role="GUEST", acting_user="viewer"),
            PermissionDenied,
            "not an admin",
        ),
        (
            "permission: unknown role",
            lambda c: c.registry.set_operator("@test/demo", "double", minimum_role="EMPEROR"),
            PluginError,
            "Unknown role",
        ),
        ("oversized: label", lambda c: c.service.queue_operation("@o/p/op", label="x" * 100_000), StoreError, "limit"),
        (
            "oversized: search regex",
            lambda c: c.service.list_operations(search={"a" * 5000: ["label"]}),
            InvalidQuery,
            "limit",
        ),
        (
            "filter: $where in a count",
            lambda c: c.service.count({"$where": "1"}, search="x"),
            InvalidQuery,
            "Cannot filter",
        ),
        (
            "plugin code: register() never returns",
            lambda c: c.registry.install(
                write_plugin(c.tmp_path / "hang", entry_code=HANGING.format(pids=str(c.tmp_path / "pid")))
            ),
            InvalidPlugin,
            "did not finish within",
        ),
        (
            "plugin code: os._exit(0) at import",
            lambda c: c.registry.install(write_plugin(c.tmp_path / "exit", entry_code="import os\nos._exit(0)\n")),
            InvalidPlugin,
            r"ended \(exit code 0\)",
        ),
        (
            "name: DAG id over 250 characters",
            lambda c: c.registry.install(write_plugin(c.tmp_path / "long", name="@org/" + "p" * 300)),
            InvalidPlugin,
            "Airflow allows 250",
        ),
        (
            "name: the DAG id of an installed operator",
            lambda c: c.registry.install(write_plugin(c.tmp_path / "twin", name="@test/demo_", operators=("double",))),
            InvalidPlugin,
            "would both be the Airflow DAG fiftyops__test_demo__double",
        ),
    ]
    return cases


def test_every_hostile_input_is_refused_and_changes_nothing(setup, service, tmp_path, monkeypatch):
    monkeypatch.setenv("FIFTYOPS_PLUGIN_VALIDATION_TIMEOUT", "2")
    registry, db = setup
    context = Context(registry, db, service, tmp_path)
    cases = corpus()
    assert len(cases) >= 40
    problems = []
    for name, action, error, message in cases:
        before = (_snapshot(db), sorted(p.name for p in registry.cache_dir.glob("*")))
        try:
            action(context)
            problems.append(f"{name}: accepted")
            continue
        except error as exc:
            if message and message not in str(exc) and re.search(message, str(exc)) is None:
                problems.append(f"{name}: message {str(exc)!r} does not say {message!r}")
            elif not str(exc).strip():
                problems.append(f"{name}: no message")
        except Exception as exc:
            problems.append(f"{name}: {type(exc).__name__} instead of {error.__name__}: {exc}")
        after = (_snapshot(db), sorted(p.name for p in registry.cache_dir.glob("*")))
        if after != before:
            problems.append(f"{name}: the store changed")
    assert problems == [], "\n".join(problems)


# -- hostile operators: what they try to leak ------------------------------------------------------


def _leaks(needles: list[str], *texts: str) -> list[str]:
    return [f"text {i} shows needle {j}" for i, text in enumerate(texts) for j, n in enumerate(needles) if n in text]


def _secret_parts(secret: str) -> list[str]:
    return [secret, *(line for line in secret.splitlines() if len(line) >= 4)]


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_hostile_operator_finds_none_of_the_launchers_credentials(
    service, make_executor, mongod, monkeypatch, method
):
    """The environment dump and the memory search of ``Snoop`` (tests/execution)."""
    assert run_snoop(service, make_executor, mongod, monkeypatch, method).result["found"] == []


@pytest.mark.parametrize(
    ("secret", "params"),
    [
        (TOKEN, {}),  # split across the 64 KiB read boundary; in the label and the result
        (PEM, {}),  # multi-line, printed as lines
        (PEM, {"fail": True}),  # in the error and its traceback
        (TOKEN, {"boundary": 65536 * 2}),  # split across the second read boundary
    ],
)
def test_a_hostile_operator_leaks_no_declared_secret_into_what_is_stored(service, queue, make_executor, secret, params):
    doc = queue("leaky", params)
    make_executor(secrets={"SAMPLE_TOKEN": secret}).run(doc.id)
    stored = service.get(doc.id)
    texts = [
        Path(stored.log_path).read_text(),
        stored.log_tail or "",
        stored.status.label if stored.status else "",
        json.dumps(stored.result.to_json(), default=str),
    ]
    assert _leaks(_secret_parts(secret), *texts) == []


def test_dispatch_triggers_store_connection_ids_not_credentials(monkeypatch):
    from fiftyops_provider.triggers.operation_dispatch import OperationDispatchTrigger
    from fiftyops_provider.triggers.queued_operation import QueuedOperationEventTrigger, QueuedOperationTrigger

    monkeypatch.setenv("AIRFLOW_CONN_FIFTYOPS_DEFAULT", "mongodb://fiftyops:mongo-pw-7f3a@db.example:27017/fiftyops")
    monkeypatch.setenv("AIRFLOW_CONN_FIFTYOPS_AIRFLOW_API", "http://admin:api-pw-91c2@api.example:8080")
    triggers = [
        QueuedOperationTrigger(quota=4),
        QueuedOperationEventTrigger(quota=4),
        OperationDispatchTrigger(picker="airflow:x", quota=4),
    ]
    stored = json.dumps([trigger.serialize()[1] for trigger in triggers])
    assert _leaks(["mongo-pw-7f3a", "api-pw-91c2", "db.example", "api.example", "://"], stored) == []
