"""``fiftyops plugins|users|datasets|queue`` against a real mongod."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fiftyops_provider.cli.main import main

REPO_PLUGINS = Path(__file__).resolve().parents[2] / "plugins_repo"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def admin(db, monkeypatch):
    monkeypatch.setenv("FIFTYOPS_USER", "root")


def test_install_list_disable_perms(capsys, admin):
    code, out, _ = run(capsys, "plugins", "install", str(REPO_PLUGINS / "utils"))
    assert code == 0 and "count_samples" in out and "MEMBER" in out
    code, out, _ = run(capsys, "--json", "plugins", "list")
    assert [p["name"] for p in json.loads(out)] == ["@fiftyops/utils"]
    assert run(capsys, "plugins", "disable", "@fiftyops/utils", "--operator", "fail")[0] == 0
    code, out, _ = run(capsys, "plugins", "info", "@fiftyops/utils", "--json")
    assert json.loads(out)["operators"]["fail"]["enabled"] is False
    assert (
        run(capsys, "plugins", "perms", "@fiftyops/utils", "sleep", "--role", "GUEST", "--dataset-permission", "VIEW")[
            0
        ]
        == 0
    )
    spec = json.loads(run(capsys, "--json", "plugins", "info", "@fiftyops/utils")[1])["operators"]["sleep"]
    assert (spec["minimum_role"], spec["minimum_dataset_permission"]) == ("GUEST", "VIEW")
    assert run(capsys, "plugins", "uninstall", "@fiftyops/utils")[0] == 0
    code, _, err = run(capsys, "plugins", "info", "@fiftyops/utils")
    assert code == 1 and "not installed" in err


def test_reinstall_without_overwrite_is_refused_then_upgrade_works(capsys, admin):
    run(capsys, "plugins", "install", str(REPO_PLUGINS / "io"))
    code, _, err = run(capsys, "plugins", "install", str(REPO_PLUGINS / "io"))
    upgrade = f"upgrade it with: fiftyops plugins upgrade {REPO_PLUGINS / 'io'}"
    assert code == 1 and err.strip() == f"error: Plugin @fiftyops/io is already installed; {upgrade}"
    assert run(capsys, "plugins", "upgrade", str(REPO_PLUGINS / "io"))[0] == 0


def test_broken_plugin_is_one_line_error(capsys, admin, tmp_path):
    (tmp_path / "fiftyone.yml").write_text("operators: []\n")
    code, _, err = run(capsys, "plugins", "install", str(tmp_path))
    assert code == 1 and "`name` is required" in err


def test_users_and_org_settings(capsys, admin):
    run(capsys, "datasets", "create", "cifar")
    assert run(capsys, "users", "create", "ann", "--role", "collaborator")[0] == 0
    code, out, _ = run(capsys, "--json", "users", "list")
    names = [u["name"] for u in json.loads(out)]
    assert "ann" in names and "root" in names
    assert run(capsys, "users", "grant", "ann", "cifar", "edit")[0] == 0
    assert run(capsys, "users", "role", "ann", "member")[0] == 0
    users = {u["name"]: u for u in json.loads(run(capsys, "--json", "users", "list")[1])}
    assert users["ann"]["role"] == "MEMBER" and list(users["ann"]["datasets"].values()) == ["EDIT"]
    code, out, _ = run(capsys, "--json", "plugins", "org-settings", "--role", "GUEST")
    assert json.loads(out)["default_operator_minimum_role"] == "GUEST"
    code, _, err = run(capsys, "users", "role", "ghost", "admin")
    assert code == 1 and "No user 'ghost'" in err


def test_non_admin_is_refused(capsys, admin, monkeypatch):
    run(capsys, "users", "create", "bob")
    monkeypatch.setenv("FIFTYOPS_USER", "bob")
    code, _, err = run(capsys, "plugins", "install", str(REPO_PLUGINS / "utils"))
    assert code == 1 and "not an admin" in err


def test_queue_validates_and_queues(capsys, admin):
    run(capsys, "plugins", "install", str(REPO_PLUGINS / "utils"))
    run(capsys, "datasets", "create", "quick")
    code, out, _ = run(capsys, "--json", "queue", "@fiftyops/utils/sleep", "-d", "quick", "-p", "seconds=3")
    doc = json.loads(out)
    assert (
        code == 0 and doc["context"]["request_params"]["params"] == {"seconds": 3} and doc["run_state"] == "scheduled"
    )
    code, _, err = run(capsys, "queue", "@fiftyops/utils/sleep", "-d", "quick", "-p", "seconds=many")
    assert code == 1 and "expected integer" in err
    code, _, err = run(capsys, "queue", "@fiftyops/utils/sleep", "-d", "quick", "-p", "oops")
    assert code == 1 and "KEY=VALUE" in err
    code, _, err = run(capsys, "queue", "@fiftyops/utils/nope", "-d", "quick")
    assert code == 1 and "does not exist" in err
    rows = json.loads(run(capsys, "--json", "datasets", "list")[1])
    assert rows[0]["name"] == "quick" and rows[0]["samples"] == 0
