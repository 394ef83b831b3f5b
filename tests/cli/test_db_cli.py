"""``fiftyops db start|status|stop`` manage the embedded mongod."""

from __future__ import annotations

import json

from fiftyops_provider.cli.main import main
from fiftyops_provider.stacks.embedded_mongo import free_port


def test_start_status_stop(capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("FIFTYOPS_DATABASE_URI", raising=False)
    monkeypatch.setenv("FIFTYOPS_HOME", str(tmp_path))
    monkeypatch.setenv("FIFTYOPS_DB_PORT", str(free_port()))
    try:
        assert main(["db", "start", "--json"]) == 0
        started = json.loads(capsys.readouterr().out)
        assert main(["db", "status", "--json"]) == 0
        status = json.loads(capsys.readouterr().out)
        assert status["embedded_running"] and status["embedded_pid"] == started["pid"]
        assert status["dbpath"] == str(tmp_path / "db")
    finally:
        assert main(["db", "stop"]) == 0
    assert f"stopped mongod pid {started['pid']}" in capsys.readouterr().out
    main(["db", "status", "--json"])
    assert json.loads(capsys.readouterr().out)["embedded_running"] is False
