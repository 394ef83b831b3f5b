"""A MongoDB replica set of several members on one machine (the embedded mongod binary), for the
cluster stack: elections, step-downs and member failures are real.

Members listen on free loopback ports. Elections are tuned to take about a second
(``electionTimeoutMillis`` 1000) instead of ten, and a signalled member shuts down in half a
second instead of fifteen (``shutdownTimeoutMillisForSignaledShutdown``). Each member is our
child, stopped by PID.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from fiftyops_provider.stacks.embedded_mongo import EmbeddedMongoUnavailable, free_port, mongod_binary, mongod_command
from fiftyops_provider.stacks.processes import stop_groups

ELECTION_TIMEOUT_MS = 1000
SHUTDOWN_TIMEOUT_MS = 500


def _client(uri: str, timeout_ms: int) -> MongoClient[dict[str, Any]]:
    return MongoClient(uri, serverSelectionTimeoutMS=timeout_ms)


class MongoReplicaSet:
    """``members`` mongod processes forming replica set ``name`` under ``base_dir``."""

    def __init__(self, base_dir: Path, members: int = 3, name: str = "rs1", cache_size_gb: float = 0.25) -> None:
        self.base_dir = Path(base_dir)
        self.name = name
        self.cache_size_gb = cache_size_gb
        self.ports = [free_port() for _ in range(members)]
        self.processes: list[subprocess.Popen | None] = [None] * members

    @property
    def uri(self) -> str:
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.ports)
        return f"mongodb://{hosts}/?replicaSet={self.name}"

    def member_uri(self, index: int) -> str:
        return f"mongodb://127.0.0.1:{self.ports[index]}/?directConnection=true"

    def start_member(self, index: int) -> None:
        """Start (or restart, on its existing data) member ``index``."""
        dbpath = self.base_dir / f"member{index}"
        dbpath.mkdir(parents=True, exist_ok=True)
        command = mongod_command(
            mongod_binary(),
            self.name,
            self.ports[index],
            dbpath,
            self.cache_size_gb,
            "--setParameter",
            f"shutdownTimeoutMillisForSignaledShutdown={SHUTDOWN_TIMEOUT_MS}",
        )
        self.processes[index] = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def start(self, timeout: float = 60.0) -> str:
        """Start every member, initiate the set and return its URI once it has a PRIMARY."""
        for index in range(len(self.ports)):
            self.start_member(index)
        deadline = time.monotonic() + timeout
        for index in range(len(self.ports)):
            self._wait_ping(index, deadline)
        members = [{"_id": i, "host": f"127.0.0.1:{port}"} for i, port in enumerate(self.ports)]
        config = {"_id": self.name, "members": members, "settings": {"electionTimeoutMillis": ELECTION_TIMEOUT_MS}}
        with _client(self.member_uri(0), 5000) as client:
            client.admin.command("replSetInitiate", config)
        self.wait_healthy(max(1.0, deadline - time.monotonic()))
        return self.uri

    def wait_healthy(self, timeout: float = 30.0) -> None:
        """Until there is one PRIMARY and every other member is SECONDARY."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with _client(self.member_uri(0), 2000) as client:
                    states = [m["stateStr"] for m in client.admin.command("replSetGetStatus")["members"]]
                if states.count("PRIMARY") == 1 and states.count("SECONDARY") == len(states) - 1:
                    return
            except PyMongoError:
                states = []
            if time.monotonic() > deadline:
                raise EmbeddedMongoUnavailable(f"replica set {self.name} not healthy in time: {states}")
            time.sleep(0.2)

    def primary_index(self) -> int:
        with _client(self.uri, 10_000) as client:
            host = client.admin.command("hello")["primary"]
        return self.ports.index(int(host.rsplit(":", 1)[1]))

    def step_down(self, seconds: int = 30) -> int:
        """``replSetStepDown`` on the PRIMARY; returns the index of the member that stepped down."""
        index = self.primary_index()
        with _client(self.member_uri(index), 5000) as client:
            client.admin.command("replSetStepDown", seconds)
        return index

    def _wait_ping(self, index: int, deadline: float) -> None:
        process = self.processes[index]
        while True:
            try:
                with _client(self.member_uri(index), 500) as client:
                    client.admin.command("ping")
                return
            except PyMongoError:
                pass
            log = self.base_dir / f"member{index}" / "mongod.log"
            if process is not None and process.poll() is not None:
                raise EmbeddedMongoUnavailable(f"mongod member {index} exited with {process.returncode}; see {log}")
            if time.monotonic() > deadline:
                raise EmbeddedMongoUnavailable(f"mongod member {index} did not answer in time; see {log}")
            time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM to every member (each quiesces for half a second), SIGKILL after 15 s."""
        stop_groups(self.processes, timeout=15)
        self.processes = [None] * len(self.ports)
