"""A private PostgreSQL server (Debian's ``postgresql`` package) for Airflow's metadata database.

``initdb`` makes a data directory of its own, and the server runs in the foreground as our child on
a free loopback port with its socket in that directory, so it neither needs nor touches the
package's ``main`` cluster. PostgreSQL refuses to run as root: as root, the directory is given to
the ``postgres`` user and the server runs as that user.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from fiftyops_provider.stacks.embedded_mongo import free_port
from fiftyops_provider.stacks.processes import spawn, stop_groups

PACKAGE_BIN = Path("/usr/lib/postgresql")
INSTALL_HINT = (
    "install Debian's postgresql (bash scripts/ensure_system_packages.sh as root, or apt-get install postgresql)"
)


class PostgresUnavailable(RuntimeError):
    """PostgreSQL is not installed or did not start; the message says what to do."""


def postgres_bin_dir() -> Path:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding ``initdb``."""
    versions = sorted(
        (p for p in PACKAGE_BIN.glob("*/bin") if (p / "initdb").exists()), key=lambda p: int(p.parent.name)
    )
    if not versions:
        raise PostgresUnavailable(f"No PostgreSQL server found under {PACKAGE_BIN}; {INSTALL_HINT}.")
    return versions[-1]


class PostgresServer:
    """One PostgreSQL server with database ``database`` owned by ``user``/``password``."""

    def __init__(self, base_dir: Path, database: str = "airflow", user: str = "airflow", password: str = "airflow"):
        self.base_dir = Path(base_dir)
        self.database, self.user, self.password = database, user, password
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.run_as = "postgres" if os.geteuid() == 0 else None

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def log_file(self) -> Path:
        return self.base_dir / "postgres.log"

    def sqlalchemy_url(self, driver: str = "psycopg2") -> str:
        return f"postgresql+{driver}://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"

    def start(self, timeout: float = 30.0) -> None:
        """initdb (first time), start the server, create the role and the database."""
        bin_dir = postgres_bin_dir()
        fresh = not (self.data_dir / "PG_VERSION").exists()
        self.base_dir.mkdir(parents=True, exist_ok=True)
        if self.run_as:
            shutil.chown(self.base_dir, self.run_as, self.run_as)
        if fresh:
            subprocess.run(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ],
                check=True,
                capture_output=True,
                user=self.run_as,
                group=self.run_as,
                extra_groups=[] if self.run_as else None,
                timeout=timeout,
            )
        self.process = spawn(
            [
                str(bin_dir / "postgres"),
                "-D",
                str(self.data_dir),
                "-p",
                str(self.port),
                "-k",
                str(self.base_dir),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "max_connections=200",
            ],
            self.log_file,
            user=self.run_as,
        )
        deadline = time.monotonic() + timeout
        while self._psql("SELECT 1", check=False).returncode != 0:
            if self.process.poll() is not None:
                raise PostgresUnavailable(f"postgres exited with {self.process.returncode}; see {self.log_file}")
            if time.monotonic() > deadline:
                self.stop()
                raise PostgresUnavailable(f"postgres did not accept connections in time; see {self.log_file}")
            time.sleep(0.1)
        if fresh:
            self._psql(f"CREATE ROLE {self.user} LOGIN PASSWORD '{self.password}'")
            self._psql(f"CREATE DATABASE {self.database} OWNER {self.user}")

    def _psql(self, sql: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "postgres", "-qAtc", sql],
            capture_output=True,
            check=check,
            timeout=30,
        )

    def stop(self) -> None:
        """SIGINT: PostgreSQL's fast shutdown (disconnects clients, exits in well under a second)."""
        stop_groups([self.process], first_signal=signal.SIGINT, timeout=15)
        self.process = None
