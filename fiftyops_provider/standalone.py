"""Running a real ``airflow standalone`` (scheduler, dag-processor, api-server, triggerer with
LocalExecutor on SQLite) for ``fiftyops up`` and the end-to-end tests.

Started in its own process group and stopped by PID: SIGINT first (standalone shuts its children
down only on SIGINT), then SIGTERM and SIGKILL for anything of that group still alive.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from fiftyops_provider.embedded import free_port

HEALTH_PATH = "/api/v2/monitor/health"
PASSWORD_FILE = "simple_auth_manager_passwords.json.generated"
ADMIN = "admin"
LOCAL_SETTINGS = "import fiftyops_provider.preload  # noqa: F401  (see its docstring)\n"


def write_local_settings(airflow_home: Path) -> Path:
    """``$AIRFLOW_HOME/config/airflow_local_settings.py`` preloading the provider in every Airflow
    component, so the task processes LocalExecutor forks start with it imported
    (``fiftyops_provider.preload``). A file the deployment already has is left alone."""
    settings = Path(airflow_home) / "config" / "airflow_local_settings.py"
    if not settings.exists():
        settings.parent.mkdir(parents=True, exist_ok=True)
        settings.write_text(LOCAL_SETTINGS)
    return settings


class StandaloneFailed(RuntimeError):
    """Airflow did not become healthy; the message points at its log."""


class AirflowStandalone:
    command: tuple[str, ...] = ("airflow", "standalone")

    def __init__(self, home: Path, dags_folder: Path, port: int | None = None, parallelism: int = 4,
                 env: dict[str, str] | None = None, preload: bool = True) -> None:
        self.home = Path(home)
        self.dags_folder = Path(dags_folder)
        self.port = port or free_port()
        self.parallelism = parallelism
        self.extra_env = dict(env or {})
        self.preload = preload
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.home / "standalone.log"

    def environment(self) -> dict[str, str]:
        """Airflow settings for a fast, loopback-only single-machine deployment."""
        venv_bin = str(Path(sys.executable).parent)
        env = {
            **os.environ,
            "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": self.base_url,
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "60",
            # Wait for SQLite's write lock instead of failing after 5 s (see sqlite_connect).
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS": "fiftyops_provider.sqlite_connect.SYNC_CONNECT_ARGS",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS_ASYNC": "fiftyops_provider.sqlite_connect.ASYNC_CONNECT_ARGS",
            # The FiftyOps dispatcher starts operation runs through the REST API, as the admin.
            "AIRFLOW_CONN_FIFTYOPS_AIRFLOW_API": json.dumps({
                "conn_type": "http", "host": "127.0.0.1", "port": self.port, "login": ADMIN, "password": self.password,
            }),
        }
        env.update(self.extra_env)
        return env

    def _ensure_admin_password(self) -> None:
        """Choose the admin's password before Airflow starts (the simple auth manager keeps a
        password it finds in its file), so the dispatcher's API connection can carry it."""
        file = self.home / PASSWORD_FILE
        if not file.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            file.write_text(json.dumps({ADMIN: secrets.token_urlsafe(12)}))

    def start(self, timeout: float = 180.0) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        if self.preload:
            write_local_settings(self.home)
        log = open(self.log_file, "ab")
        self.process = subprocess.Popen(
            list(self.command), env=self.environment(), stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True, cwd=self.home,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise StandaloneFailed(f"airflow standalone exited with {self.process.returncode}; see {self.log_file}")
            if self.healthy() and (self.home / PASSWORD_FILE).exists():
                return
            time.sleep(0.5)
        self.stop()
        raise StandaloneFailed(f"Airflow was not healthy within {timeout:.0f}s; see {self.log_file}")

    def healthy(self) -> bool:
        try:
            return requests.get(self.base_url + HEALTH_PATH, timeout=2).status_code == 200
        except requests.RequestException:
            return False

    @property
    def password(self) -> str:
        self._ensure_admin_password()
        return json.loads((self.home / PASSWORD_FILE).read_text())[ADMIN]

    def stop(self, timeout: float = 30.0) -> None:
        """SIGINT to standalone, then clean up whatever of its process group is left, by PID."""
        if self.process is None:
            return
        pgid = self.process.pid
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            time.sleep(2)
        if self.process.poll() is None:
            self.process.wait(10)
        self.process = None
