"""Running a real ``airflow standalone`` (scheduler, dag-processor, api-server, triggerer with
LocalExecutor on SQLite) for ``fiftyops up`` and the end-to-end tests.

Beside it runs an execution API server of its own (``airflow api-server --apps execution``), which
the tasks, the triggerer and the dag-processor use (``[core] execution_api_server_url``). Airflow's
REST API writes its audit log synchronously on the api-server's event loop. On SQLite, that write
waits for the lock; meanwhile a task's write, which holds the lock, waits for that same loop to
commit. In a single api-server this deadlock lasted SQLite's busy timeout. Under a burst of
operations it stalled every request and made the scheduler exit. With two servers, the holder's
loop is never the blocked one.

Both are started in process groups of their own and stopped by PID: SIGINT first (standalone shuts
its children down only on SIGINT), then SIGTERM and SIGKILL for anything of a group still alive.
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

from fiftyops_provider.stacks.embedded_mongo import free_port

HEALTH_PATH = "/api/v2/monitor/health"
EXECUTION_HEALTH_PATH = "/execution/health"
PASSWORD_FILE = "simple_auth_manager_passwords.json.generated"
ADMIN = "admin"
JWT_SECRET_FILE = "jwt_secret.generated"
LOCAL_SETTINGS = "import fiftyops_provider.preload  # noqa: F401  (see its docstring)\n"
# Connect args that make SQLite writers wait for the write lock (Airflow imports them by dotted path).
SQLITE_CONNECT_MODULE = "fiftyops_provider.stacks.sqlite_connect"


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

    def __init__(
        self,
        home: Path,
        dags_folder: Path,
        port: int | None = None,
        parallelism: int = 4,
        env: dict[str, str] | None = None,
        preload: bool = True,
    ) -> None:
        self.home = Path(home)
        self.dags_folder = Path(dags_folder)
        self.port = port or free_port()
        self.parallelism = parallelism
        self.extra_env = dict(env or {})
        self.preload = preload
        self.execution_api_port = free_port()
        self.process: subprocess.Popen | None = None
        self.execution_api: subprocess.Popen | None = None

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
            # One worker per api-server, as 3.1+ default to (3.0 starts four; while they import
            # Airflow on a loaded machine they miss uvicorn's health checks and are restarted forever).
            "AIRFLOW__API__WORKERS": "1",
            # Tasks, the triggerer and the dag-processor talk to an execution API server of their own
            # (see start_execution_api).
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.execution_api_port}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": self.jwt_secret,
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "60",
            # Wait for SQLite's write lock instead of failing after 5 s (see sqlite_connect).
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS": f"{SQLITE_CONNECT_MODULE}.SYNC_CONNECT_ARGS",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS_ASYNC": f"{SQLITE_CONNECT_MODULE}.ASYNC_CONNECT_ARGS",
            # The FiftyOps dispatcher starts operation runs through the REST API, as the admin.
            "AIRFLOW_CONN_FIFTYOPS_AIRFLOW_API": json.dumps(
                {
                    "conn_type": "http",
                    "host": "127.0.0.1",
                    "port": self.port,
                    "login": ADMIN,
                    "password": self.password,
                }
            ),
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

    @property
    def jwt_secret(self) -> str:
        """The secret task tokens are signed with: the scheduler signs them, the execution API
        server checks them, so both must know it before either starts."""
        file = self.home / JWT_SECRET_FILE
        if not file.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            file.write_text(secrets.token_urlsafe(24))
        return file.read_text()

    def _spawn(self, command: list[str], log_file: Path) -> subprocess.Popen:
        with open(log_file, "ab") as log:
            return subprocess.Popen(
                command,
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=self.home,
            )

    def start(self, timeout: float = 180.0) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        if self.preload:
            write_local_settings(self.home)
        # Airflow writes a missing airflow.cfg (with generated keys) on first import: once, here,
        # not by the two processes below racing each other.
        if not (self.home / "airflow.cfg").exists():
            subprocess.run(
                [sys.executable, "-c", "import airflow.configuration"],
                env=self.environment(),
                cwd=self.home,
                check=True,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout,
            )
        self.process = self._spawn(list(self.command), self.log_file)
        # The execution API server refuses to start on an unmigrated database: it waits for
        # standalone's migration. Tasks that start before it is up retry (the Task SDK does).
        self.execution_api = self._spawn(
            [
                "sh",
                "-c",
                f"airflow db check-migrations -t {int(timeout)} && exec airflow api-server --apps execution "
                f"-H 127.0.0.1 -p {self.execution_api_port}",
            ],
            self.execution_api_log_file,
        )
        watched = (
            ("airflow standalone", self.process, self.log_file),
            ("the execution API server", self.execution_api, self.execution_api_log_file),
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process, log in watched:
                if process.poll() is not None:
                    self.stop()  # the other one too
                    raise StandaloneFailed(f"{name} exited with {process.returncode}; see {log}")
            if self.healthy() and (self.home / PASSWORD_FILE).exists():
                return
            time.sleep(0.5)
        self.stop()
        raise StandaloneFailed(
            f"Airflow was not healthy within {timeout:.0f}s; see {self.log_file} and {self.execution_api_log_file}"
        )

    @property
    def root_pids(self) -> list[int]:
        """The PIDs of standalone and of the execution API server: every Airflow process of this
        deployment is one of them or their descendant."""
        return [process.pid for process in (self.process, self.execution_api) if process is not None]

    @property
    def execution_api_log_file(self) -> Path:
        return self.home / "execution-api.log"

    def healthy(self) -> bool:
        """Both API servers answer their health checks."""
        checks = (self.base_url + HEALTH_PATH, f"http://127.0.0.1:{self.execution_api_port}{EXECUTION_HEALTH_PATH}")
        try:
            return all(requests.get(url, timeout=2).status_code == 200 for url in checks)
        except requests.RequestException:
            return False

    @property
    def password(self) -> str:
        self._ensure_admin_password()
        return json.loads((self.home / PASSWORD_FILE).read_text())[ADMIN]

    def stop(self, timeout: float = 30.0) -> None:
        """SIGINT to standalone and the execution API server, then clean up whatever of their
        process groups is left, by PID."""
        for process in (self.process, self.execution_api):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in (self.process, self.execution_api):
            if process is not None:
                _stop_group(process, timeout)
        self.process = self.execution_api = None


def _stop_group(process: subprocess.Popen, timeout: float) -> None:
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        pass
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        time.sleep(2)
    if process.poll() is None:
        process.wait(10)
