"""The embedded mongod: idempotent start, recovery after a kill, clean stop, clear errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest
from pymongo import MongoClient

from fiftyops_provider.database import get_database
from fiftyops_provider.stacks import embedded_mongo as embedded
from fiftyops_provider.stacks.embedded_mongo import EmbeddedMongo, EmbeddedMongoUnavailable, free_port


@pytest.fixture
def server(tmp_path):
    mongo = EmbeddedMongo(dbpath=tmp_path / "db", port=free_port())
    yield mongo
    mongo.stop()


def test_start_is_idempotent_and_gives_a_replica_set_primary(server):
    uri = server.start()
    pid = server.recorded_pid()
    assert server.start() == uri and server.recorded_pid() == pid
    with MongoClient(uri) as client:
        assert client.admin.command("hello")["setName"] == "rs0"
        with client.fiftyops.delegated_ops.watch(max_await_time_ms=100) as stream:  # change streams work
            client.fiftyops.delegated_ops.insert_one({"x": 1})
            assert stream.next()["operationType"] == "insert"


def test_restart_after_a_killed_mongod_keeps_the_data(server):
    uri = server.start()
    with MongoClient(uri) as client:
        client.fiftyops.probe.insert_one(
            {"kept": True},
        )
    os.kill(server.recorded_pid(), signal.SIGKILL)
    time.sleep(0.5)
    assert not server.is_running()
    uri = server.start()
    with MongoClient(uri) as client:
        assert client.fiftyops.probe.find_one({"kept": True}) is not None


def test_a_recorded_pid_now_used_by_another_process_is_neither_stopped_nor_trusted(server):
    """After a crash (or a reboot) the PID in the state file can belong to an unrelated process."""
    uri = server.start()
    os.kill(server.recorded_pid(), signal.SIGKILL)
    time.sleep(0.5)
    stranger = subprocess.Popen(["sleep", "60"])
    try:
        (server.dbpath / embedded.PID_FILE).write_text(json.dumps({"pid": stranger.pid, "port": server.port}))
        assert server.recorded_pid() is None
        server.stop()
        assert stranger.poll() is None  # not killed
        assert server.start() == uri and server.recorded_pid() not in (None, stranger.pid)
    finally:
        stranger.kill()
        stranger.wait()


def test_stop_ends_the_process(server):
    server.start()
    pid = server.recorded_pid()
    server.stop()
    assert server.recorded_pid() is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_missing_wheel_tells_the_user_to_set_a_uri(monkeypatch):
    monkeypatch.setattr(embedded.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(EmbeddedMongoUnavailable, match="FIFTYOPS_DATABASE_URI"):
        embedded.mongod_binary()


def test_no_uri_configured_uses_the_embedded_server(tmp_path, monkeypatch):
    monkeypatch.delenv("FIFTYOPS_DATABASE_URI", raising=False)
    monkeypatch.setenv("FIFTYOPS_DB_PATH", str(tmp_path / "embedded"))
    monkeypatch.setenv("FIFTYOPS_DB_PORT", str(free_port()))
    try:
        db = get_database()
        db.probe.insert_one({"a": 1})
        assert db.name == "fiftyops" and db.probe.count_documents({}) == 1
    finally:
        EmbeddedMongo(dbpath=tmp_path / "embedded", port=int(os.environ["FIFTYOPS_DB_PORT"])).stop()
