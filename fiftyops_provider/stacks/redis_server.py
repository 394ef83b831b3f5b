"""A private Redis server (Debian's ``redis-server``) as the Celery broker: a free loopback port,
no persistence, our child in the foreground, stopped by PID."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from fiftyops_provider.stacks.embedded_mongo import free_port
from fiftyops_provider.stacks.processes import spawn, stop_groups


class RedisUnavailable(RuntimeError):
    """redis-server is not installed or did not start; the message says what to do."""


class RedisServer:
    def __init__(self, base_dir: Path) -> None:
        self.base_dir = Path(base_dir)
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log_file(self) -> Path:
        return self.base_dir / "redis.log"

    def start(self, timeout: float = 15.0) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RedisUnavailable(
                "redis-server is not installed; run bash scripts/ensure_system_packages.sh as root "
                "(or apt-get install redis-server)."
            )
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.process = spawn(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.base_dir),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            self.log_file,
        )
        deadline = time.monotonic() + timeout
        while not self.ping():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RedisUnavailable(f"redis-server did not start; see {self.log_file}")
            time.sleep(0.05)

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        stop_groups([self.process], timeout=10)
        self.process = None
