"""Remote mode against a real ``airflow api-server``: the CLI and SDK of people who are not admins
talk to the FiftyOps API with an Airflow token; the server decides who they are (Airflow's auth
manager) and what they may do (``access.run_rules``). The database URI the CLI sees during these
calls points nowhere, so every answer came through the API.
"""

from __future__ import annotations

import io
import json
import os
import stat
from collections.abc import Iterator

import pytest

from fiftyops_provider.cli.main import main
from fiftyops_provider.plugins import PermissionDenied
from fiftyops_provider.store import ExecutionRunState as S

NOWHERE = "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=500"


@pytest.fixture
def remote(ui_server, seeded, monkeypatch, tmp_path) -> Iterator:
    """``cli(user, *argv)`` runs ``fiftyops`` in remote mode as the Airflow user ``user``."""
    tokens = {name: ui_server.token(name) for name in ("admin", "olga", "uma", "vic")}
    database = os.environ["FIFTYOPS_DATABASE_URI"]

    def cli(capsys, user: str | None, *argv: str) -> tuple[int, str, str]:
        monkeypatch.setenv("FIFTYOPS_DATABASE_URI", NOWHERE)
        monkeypatch.setenv("FIFTYOPS_API_URL", ui_server.base_url)
        monkeypatch.setenv("FIFTYOPS_API_TOKEN", tokens[user] if user else "not-a-token")
        monkeypatch.delenv("FIFTYOPS_USER", raising=False)
        try:
            code = main(list(argv))
        finally:
            monkeypatch.setenv("FIFTYOPS_DATABASE_URI", database)
            monkeypatch.delenv("FIFTYOPS_API_URL")
            monkeypatch.delenv("FIFTYOPS_API_TOKEN")
        out, err = capsys.readouterr()
        return code, out, err

    yield cli


def one_line_error(code: int, err: str, says: str) -> bool:
    return code == 1 and len(err.strip().splitlines()) == 1 and says in err and "Traceback" not in err


def test_queue_list_info_logs_as_the_token_user(capsys, remote, seeded):
    code, out, err = remote(
        capsys, "olga", "--json", "queue", "@fiftyops/utils/sleep", "-d", "birds", "-p", "seconds=0"
    )
    assert code == 0, err
    queued = json.loads(out)
    doc = seeded.service.get(queued["id"])
    assert doc.queued_by == "olga" and doc.params == {"seconds": 0} and doc.dataset_name == "birds"
    code, out, _ = remote(capsys, "olga", "--json", "delegated", "list")
    assert code == 0 and [op["id"] for op in json.loads(out)["operations"]] == [queued["id"]]
    seeded.run(doc)
    code, out, _ = remote(capsys, "olga", "delegated", "info", queued["id"])
    assert code == 0 and "completed" in out and "olga" in out
    code, out, _ = remote(capsys, "olga", "--json", "delegated", "info", queued["id"])
    assert json.loads(out) == {**json.loads(out), "run_state": "completed", "queued_by": "olga"}
    assert json.loads(out)["claim_token"] is None  # the executor's token never leaves the server
    code, out, _ = remote(capsys, "olga", "delegated", "logs", queued["id"])
    assert code == 0 and out.strip(), out


def test_the_server_refuses_what_the_rules_refuse_and_nothing_changes(capsys, remote, seeded):
    """vic (Airflow viewer: a GUEST on first sight) and uma (VIEW on birds) against olga's run."""
    run = seeded.queue("sleep", user="olga", seconds=5)
    before = seeded.service.get(run.id)
    for argv in (
        ("terminate", str(run.id)),
        ("fail", str(run.id)),
        ("label", str(run.id), "vic's"),
        ("pin", str(run.id)),
        ("rerun", str(run.id)),
        ("info", str(run.id)),
        ("logs", str(run.id)),
    ):
        code, _, err = remote(capsys, "vic", "delegated", *argv)
        assert one_line_error(code, err, f"No delegated operation with id {run.id}"), (argv, err)  # hidden: 404
    code, out, _ = remote(capsys, "uma", "delegated", "info", str(run.id))
    assert code == 0 and "olga" in out
    code, _, err = remote(capsys, "uma", "delegated", "label", str(run.id), "uma's")
    assert one_line_error(code, err, "uma cannot change")
    code, _, err = remote(capsys, "uma", "delegated", "rerun", str(run.id))
    assert one_line_error(code, err, "needs MEMBER")
    code, _, err = remote(capsys, "vic", "queue", "@fiftyops/utils/sleep", "-d", "birds")
    assert one_line_error(code, err, "needs MEMBER")
    assert seeded.service.get(run.id) == before
    assert seeded.service.count() == 1


def test_queue_values_cannot_become_options_of_the_servers_command(ui_server, seeded):
    """The server queues through a child ``fiftyops queue``: an operator or label that looks like
    ``--user=admin`` must stay a value, never queue as the admin."""
    session = ui_server.client("olga")
    for body in (
        {"operator": "--user=admin", "dataset": "birds"},
        {"operator": "@fiftyops/utils/sleep", "dataset": "--user=admin"},
    ):
        response = session.post(ui_server.url("/api/operations"), json=body, timeout=60)
        assert response.status_code in (400, 404), response.text
    response = session.post(
        ui_server.url("/api/operations"),
        json={"operator": "@fiftyops/utils/sleep", "dataset": "birds", "label": "--user=admin", "params": {}},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    assert [(d.queued_by, d.label) for d in seeded.service.list_operations()] == [("olga", "--user=admin")]


def test_owner_changes_and_an_admins_rerun_is_queued_by_the_admin(capsys, remote, seeded):
    run = seeded.queue("sleep", user="olga", seconds=5)
    assert remote(capsys, "olga", "delegated", "label", str(run.id), "Renamed")[0] == 0
    assert remote(capsys, "olga", "delegated", "pin", str(run.id))[0] == 0
    got = seeded.service.get(run.id)
    assert got.label == "Renamed" and got.pinned
    code, out, _ = remote(capsys, "admin", "--json", "delegated", "rerun", str(run.id))
    new = seeded.service.get(json.loads(out)["id"])
    assert code == 0 and new.rerun_of == run.id and new.queued_by == "admin"
    code, out, _ = remote(capsys, "olga", "delegated", "terminate", str(run.id), "--reason", "enough")
    assert code == 0 and seeded.service.get(run.id).run_state is S.FAILED


def test_commands_that_need_the_database_are_refused_in_remote_mode(capsys, remote, seeded):
    run = seeded.queue("sleep", user="olga", seconds=5)
    code, _, err = remote(capsys, "olga", "delegated", "delete", str(run.id))
    assert one_line_error(code, err, "not offered in remote mode")
    code, _, err = remote(capsys, "admin", "delegated", "cleanup", "--orphan")
    assert one_line_error(code, err, "not offered in remote mode")
    assert seeded.service.count() == 1


def test_a_bad_token_is_a_one_line_error(capsys, remote, seeded):
    code, _, err = remote(capsys, None, "delegated", "list")
    assert one_line_error(code, err, "fiftyops login")


def test_sdk_delegate_and_runs_return_the_same_documents_as_direct_mode(ui_server, seeded, monkeypatch):
    import fiftyops_provider.management as fom
    from fiftyops_provider import delegate

    monkeypatch.setenv("FIFTYOPS_API_URL", ui_server.base_url)
    monkeypatch.setenv("FIFTYOPS_API_TOKEN", ui_server.token("olga"))
    doc = delegate("@fiftyops/utils/sleep", dataset="birds", params={"seconds": 0}, label="remote")
    stored = seeded.service.get(doc.id)
    assert doc.queued_by == "olga" and doc.label == "remote"
    assert doc == stored
    assert fom.get_run(str(doc.id)) == doc
    assert fom.set_run_label(str(doc.id), "again").label == "again"
    assert [d.id for d in fom.list_runs().items] == [doc.id]
    with pytest.raises(PermissionDenied, match="drop user="):
        delegate("@fiftyops/utils/sleep", dataset="birds", user="admin")


def test_login_stores_the_token_for_its_owner_only_and_logout_forgets_it(
    ui_server, seeded, monkeypatch, capsys, tmp_path
):
    monkeypatch.setenv("FIFTYOPS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("FIFTYOPS_DATABASE_URI", NOWHERE)
    monkeypatch.setattr("sys.stdin", io.StringIO(ui_server.passwords["olga"] + "\n"))
    code = main(["login", "--api-url", ui_server.base_url, "-u", "olga", "--password-stdin"])
    assert code == 0
    credentials = tmp_path / "home" / "credentials.json"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert json.loads(credentials.read_text())["api_url"] == ui_server.base_url
    seeded.queue("sleep", user="olga", seconds=1)
    capsys.readouterr()
    assert main(["--json", "delegated", "list"]) == 0
    assert json.loads(capsys.readouterr().out)["total"] == 1
    assert main(["logout"]) == 0 and not credentials.exists()
    monkeypatch.setattr("sys.stdin", io.StringIO("wrong\n"))
    assert main(["login", "--api-url", ui_server.base_url, "-u", "olga", "--password-stdin"]) == 1
    assert "check the name and password" in capsys.readouterr().err and not credentials.exists()
