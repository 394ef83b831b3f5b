"""How the executor starts a child (``FIFTYOPS_CHILD_START``): forked by default, a fresh
interpreter with ``spawn``, and the same isolation either way, as seen from inside the operator."""

from __future__ import annotations

import importlib
import logging
import os
import signal
import socket
import sys
from pathlib import Path

import pytest
from isolation_operators import PROBE, SECRET, SOURCE

from fiftyops_provider.database import get_client
from fiftyops_provider.execution import OutcomeState

METHODS = ["fork", "spawn"]


@pytest.fixture
def probe(service, make_executor, monkeypatch):
    """``probe(method, **params)``: the probe operator's result, run by an executor whose children
    start with ``method``; also returns the operation's log text."""

    def run(method: str, **params):
        monkeypatch.setenv("FIFTYOPS_CHILD_START", method)
        doc = service.queue_operation(
            PROBE, context={"request_params": {"params": params}}, initial_state="queued", queued_by="alice"
        )
        outcome = make_executor(source=SOURCE).run(doc.id)
        assert outcome.state is OutcomeState.COMPLETED, outcome.error
        return outcome, Path(outcome.log_path).read_text()

    return run


@pytest.mark.parametrize("method", METHODS)
def test_the_operator_runs_in_a_session_of_its_own(probe, method):
    outcome, _ = probe(method)

    child = outcome.result
    assert child["pid"] == outcome.pid != os.getpid()
    assert child["pgid"] == child["sid"] == child["pid"] != os.getpgrp()  # the executor kills this group


@pytest.mark.parametrize("method", METHODS)
def test_the_child_holds_none_of_the_parents_files_or_sockets(probe, method, tmp_path):
    with open(tmp_path / "parent-only.txt", "w"), socket.create_server(("127.0.0.1", 0)) as listener:
        socket_target = os.readlink(f"/proc/self/fd/{listener.fileno()}")
        outcome, _ = probe(method)

    targets = outcome.result["fd_targets"]
    assert str(tmp_path / "parent-only.txt") not in targets and socket_target not in targets
    stdin, stdout, stderr = outcome.result["stdio"]
    assert stdin == os.devnull and stdout == stderr and stdout.startswith("pipe:")  # merged into the log


@pytest.mark.parametrize("method", METHODS)
def test_the_child_gets_the_environment_the_executor_built(probe, method, monkeypatch):
    monkeypatch.setenv(SECRET, "s3cret-value")

    outcome, log = probe(method, env=[SECRET, "PYTHONUNBUFFERED", "FIFTYOPS_DATABASE_NAME", "FIFTYOPS_HOME"])

    assert outcome.result["ctx_secret"] == "***"  # it arrived: the stored result masks exactly that value
    assert outcome.result["env"] == {
        SECRET: "***",  # the declared secret is there; its value is masked in the stored result
        "PYTHONUNBUFFERED": "1",
        "FIFTYOPS_DATABASE_NAME": None,  # the database comes with the spec, not the environment
        "FIFTYOPS_HOME": os.environ["FIFTYOPS_HOME"],
    }
    assert "s3cret-value" not in log


@pytest.mark.parametrize("method", METHODS)
def test_the_parents_signal_handlers_and_log_handlers_stay_in_the_parent(probe, method, tmp_path):
    parent_log = tmp_path / "parent.log"
    handler = logging.FileHandler(parent_log)
    parent_logger = logging.getLogger("isolation.parent")
    parent_logger.addHandler(handler)
    parent_logger.propagate = False  # as Airflow's task logger: its own handler only
    previous = signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        outcome, log = probe(method, logger="isolation.parent")
    finally:
        signal.signal(signal.SIGTERM, previous)
        parent_logger.removeHandler(handler)
        parent_logger.propagate = True
        handler.close()

    assert outcome.result["sigterm"] == repr(signal.SIG_DFL)
    assert "probe log line" in log and "probe log line" not in parent_log.read_text()


@pytest.mark.parametrize(("method", "inherited"), [("fork", True), ("spawn", False)])
def test_spawn_starts_a_fresh_interpreter(probe, method, inherited, tmp_path, monkeypatch):
    name = "imported_by_the_parent_only"
    (tmp_path / f"{name}.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module(name)
    try:
        outcome, _ = probe(method, modules=[name])
    finally:
        del sys.modules[name]

    assert outcome.result["modules"] == {name: inherited}


def test_an_unknown_start_method_is_refused_when_the_executor_is_configured(make_executor, monkeypatch):
    monkeypatch.setenv("FIFTYOPS_CHILD_START", "thread")

    with pytest.raises(ValueError, match=r"FIFTYOPS_CHILD_START='thread' .*'fork'.*'spawn'"):
        make_executor()


def test_a_forked_child_never_uses_the_parents_mongodb_client(probe):
    uri = os.environ["FIFTYOPS_DATABASE_URI"]
    parent_client = get_client(uri)  # the process-wide cached client, as in an Airflow task

    outcome, _ = probe("fork", client_for=uri)

    assert outcome.result["client_id"] != id(parent_client)  # same address space: a reused one has the same id
