"""``fiftyops delegated ...`` checks who asks, with the UI's rules (``access.run_rules``), against a
real mongod: a stranger is refused with one line and exit 1 and nothing changes; the owner, a user
with EDIT on the dataset and an admin may change a run; VIEW may read it; a rerun needs what
queueing needs and is queued by the asker.
"""

from __future__ import annotations

import json

import pytest

from fiftyops_provider.access.users import UserStore
from fiftyops_provider.cli.main import main
from fiftyops_provider.datasets.catalog import create_dataset
from fiftyops_provider.store import ExecutionRunState as S
from tests.plugins.conftest import write_plugin
from tests.plugins.test_delegate import _snapshot

OPERATOR = "@test/demo/double"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def setup(db, registry, service, tmp_path, monkeypatch):
    """@test/demo installed by root (the bootstrap admin); dataset birds. alice owns a run on it
    (MEMBER, EDIT), ed has EDIT, vic (COLLABORATOR) VIEW, eve (MEMBER) nothing."""
    registry.install(write_plugin(tmp_path / "demo"))
    birds = create_dataset(db, "birds")
    users = UserStore(db)
    for name, role, grant in (
        ("alice", "MEMBER", "EDIT"),
        ("ed", "MEMBER", "EDIT"),
        ("vic", "COLLABORATOR", "VIEW"),
        ("eve", "MEMBER", None),
    ):
        users.create(name, role)
        if grant:
            users.grant(name, birds.id, grant)
    log = tmp_path / "alice.log"
    log.write_text("alice's secret output\n")
    context = {"request_params": {"dataset_id": birds.id, "dataset_name": "birds", "params": {"n": 2}}}
    queued = service.queue_operation(OPERATOR, label="Alice's", context=context, queued_by="alice")
    done = service.queue_operation(OPERATOR, label="Done", context=context, queued_by="alice", initial_state="queued")
    service.set_running(done.id, log_path=str(log))
    service.set_completed(done.id, result={"n": 4})
    monkeypatch.delenv("FIFTYOPS_USER")
    return db, service, queued, done


def commands(queued, done) -> list[tuple[str, ...]]:
    """Every run command, each aimed at a run it could act on."""
    return [
        ("fail", str(queued.id)),
        ("terminate", str(queued.id)),
        ("delete", str(done.id)),
        ("label", str(done.id), "Mine now"),
        ("pin", str(done.id)),
        ("unpin", str(done.id)),
        ("archive", str(done.id)),
        ("unarchive", str(done.id)),
        ("rerun", str(done.id)),
        ("logs", str(done.id)),
        ("info", str(done.id)),
        ("output", str(done.id)),
    ]


@pytest.mark.parametrize("who", ["eve", None])
def test_a_stranger_or_nobody_is_refused_every_command_and_nothing_changes(capsys, monkeypatch, setup, who):
    db, _service, queued, done = setup
    if who:
        monkeypatch.setenv("FIFTYOPS_USER", who)
    for argv in commands(queued, done):
        before = _snapshot(db)
        code, out, err = run(capsys, "delegated", *argv)
        assert code == 1, argv
        assert len(err.strip().splitlines()) == 1, (argv, err)
        # eve may not see these runs: for her they do not exist (the same answer as an unknown id)
        assert ("No delegated operation with id" in err) if who else ("No acting user" in err), (argv, err)
        assert "secret" not in out + err and "Traceback" not in err
        assert _snapshot(db) == before, argv
    with pytest.raises(SystemExit) as help_exit:
        main(["delegated", "rerun", "--help"])
    assert help_exit.value.code == 0


def test_rerun_without_acting_user_of_an_admins_run_is_refused(capsys, setup, service):
    """The reported hole: FIFTYOPS_USER unset, rerun of an admin's run created a run as the admin."""
    _db, service, _queued, _done = setup
    admins = service.queue_operation(OPERATOR, context={"request_params": {"params": {"n": 1}}}, queued_by="root")
    code, _, err = run(capsys, "delegated", "rerun", str(admins.id))
    assert code == 1 and "No acting user" in err
    assert service.count({"rerun_of": admins.id}) == 0


@pytest.mark.parametrize("who", ["alice", "ed", "root"])
def test_owner_edit_and_admin_may_change_a_run(capsys, monkeypatch, setup, who):
    _db, service, queued, done = setup
    monkeypatch.setenv("FIFTYOPS_USER", who)
    assert run(capsys, "delegated", "label", str(done.id), f"by {who}")[0] == 0
    assert service.get(done.id).label == f"by {who}"
    assert run(capsys, "delegated", "pin", str(done.id))[0] == 0 and service.get(done.id).pinned
    assert run(capsys, "delegated", "archive", str(done.id))[0] == 0 and service.get(done.id).archived
    assert run(capsys, "delegated", "terminate", str(queued.id))[0] == 0
    assert service.get(queued.id).run_state is S.FAILED
    assert run(capsys, "delegated", "delete", str(done.id))[0] == 0 and service.count() == 1


def test_fail_by_the_owner_records_who(capsys, monkeypatch, setup):
    _db, service, queued, _done = setup
    monkeypatch.setenv("FIFTYOPS_USER", "alice")
    assert run(capsys, "delegated", "fail", str(queued.id))[0] == 0
    assert service.get(queued.id).result.error_message == "marked failed by alice from the CLI"


def test_view_may_read_but_not_change(capsys, monkeypatch, setup):
    _db, service, _queued, done = setup
    monkeypatch.setenv("FIFTYOPS_USER", "vic")
    code, out, _ = run(capsys, "delegated", "info", str(done.id))
    assert code == 0 and "Done" in out
    code, out, _ = run(capsys, "delegated", "logs", str(done.id))
    assert code == 0 and out == "alice's secret output\n"
    code, _, err = run(capsys, "delegated", "label", str(done.id), "vic's")
    assert code == 1 and "cannot change" in err and service.get(done.id).label == "Done"


@pytest.mark.parametrize("who", ["ed", "root"])
def test_rerun_is_queued_by_the_asker_never_the_owner(capsys, monkeypatch, setup, who):
    _db, service, _queued, done = setup
    monkeypatch.setenv("FIFTYOPS_USER", who)
    code, out, _ = run(capsys, "delegated", "rerun", str(done.id), "--json")
    new = service.get(json.loads(out)["id"])
    assert code == 0 and new.rerun_of == done.id and new.queued_by == who


def test_rerun_needs_what_queueing_needs(capsys, monkeypatch, setup):
    """vic may see the run (VIEW) but the operator needs MEMBER and EDIT: no rerun."""
    _db, service, _queued, done = setup
    monkeypatch.setenv("FIFTYOPS_USER", "vic")
    code, _, err = run(capsys, "delegated", "rerun", str(done.id))
    assert code == 1 and "needs MEMBER" in err
    assert service.count({"rerun_of": done.id}) == 0


def test_list_shows_only_what_the_user_may_see(capsys, monkeypatch, setup):
    monkeypatch.setenv("FIFTYOPS_USER", "eve")
    code, out, _ = run(capsys, "delegated", "list", "--json")
    assert code == 0 and json.loads(out)["total"] == 0
    code, _, err = run(capsys, "delegated", "list", "-u", "alice")
    assert code == 1 and "Only admins" in err
    code, _, err = run(capsys, "delegated", "list", "-d", "birds")
    assert code == 1 and "no VIEW" in err
    monkeypatch.setenv("FIFTYOPS_USER", "vic")
    code, out, _ = run(capsys, "delegated", "list", "-d", "birds", "--json")
    assert code == 0 and json.loads(out)["total"] == 2
    monkeypatch.setenv("FIFTYOPS_USER", "root")
    code, out, _ = run(capsys, "delegated", "list", "--json")
    assert code == 0 and json.loads(out)["total"] == 2


def test_cleanup_by_a_stranger_reaches_only_their_own_runs(capsys, monkeypatch, setup):
    _db, service, _queued, _done = setup
    monkeypatch.setenv("FIFTYOPS_USER", "eve")
    code, out, _ = run(capsys, "delegated", "cleanup", "--operator", OPERATOR)
    assert code == 0 and "0 operation(s) deleted" in out and service.count() == 2
    monkeypatch.setenv("FIFTYOPS_USER", "ed")
    code, out, _ = run(capsys, "delegated", "cleanup", "--dataset", "birds", "--state", "completed")
    assert code == 0 and "1 operation(s) deleted" in out and service.count() == 1


def test_queue_without_an_acting_user_is_refused(capsys, setup):
    db, _service, _queued, _done = setup
    before = _snapshot(db)
    code, _, err = run(capsys, "queue", OPERATOR, "-d", "birds", "-p", "n=1")
    assert code == 1 and "No acting user" in err and len(err.strip().splitlines()) == 1
    assert _snapshot(db) == before
