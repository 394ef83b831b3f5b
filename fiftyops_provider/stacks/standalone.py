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
from collections.abc import Iterable
from pathlib import Path

import psutil
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
OWNER_FILE = "fiftyops-standalone.json"


def processes_of(airflow_home: Path, groups: Iterable[int] | None = None) -> list[psutil.Process]:
    """Live processes working in ``airflow_home`` (every Airflow process a standalone there starts
    runs in it, including children whose parent was killed: they keep running, and keep its
    ports), only those of the process ``groups`` when given. Found by working directory: Airflow's
    servers and workers rename themselves (setproctitle), which overwrites their command line and
    environment."""
    wanted = os.path.realpath(airflow_home)
    in_groups = None if groups is None else set(groups)
    found = []
    for process in psutil.process_iter():
        try:
            if (
                process.cwd() == wanted
                and (in_groups is None or os.getpgid(process.pid) in in_groups)
                and process.status() != psutil.STATUS_ZOMBIE
            ):
                found.append(process)
        except (psutil.Error, ProcessLookupError):  # gone, or another user's
            continue
    return found


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
    """Airflow did not become healthy, or is already running there; the message says what to do."""


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

    @property
    def owner_file(self) -> Path:
        return self.home / OWNER_FILE

    def _record_owner(self) -> None:
        """Who runs Airflow here: this process, and the process groups of the two servers (each
        starts a session of its own, which all of its descendants share)."""
        me = psutil.Process()
        self.owner_file.write_text(
            json.dumps({"pid": me.pid, "create_time": me.create_time(), "groups": self.root_pids})
        )

    def start(self, timeout: float = 300.0) -> None:
        """Start standalone and its execution API server and wait until both answer.

        :param timeout: seconds to wait; on failure everything this started is stopped.
        """
        self.home.mkdir(parents=True, exist_ok=True)
        clear_leftovers(self.home)
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
        self._record_owner()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            exited = self.exited()
            if exited:
                self.stop()  # the other one too
                raise StandaloneFailed(exited)
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

    def exited(self) -> str | None:
        """Which of the two servers has exited (and where its log is), or None while both run."""
        for name, process, log in (
            ("airflow standalone", self.process, self.log_file),
            ("the execution API server", self.execution_api, self.execution_api_log_file),
        ):
            if process is not None and process.poll() is not None:
                return f"{name} exited with {process.returncode}; see {log}"
        return None

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
        if self.process is not None or self.execution_api is not None:
            self.owner_file.unlink(missing_ok=True)
        self.process = self.execution_api = None


def clear_leftovers(airflow_home: Path) -> None:
    """Stop what a crashed earlier start in ``airflow_home`` left running, or refuse if it is
    still in use. The process that started Airflow there owns it while it lives; Airflow processes
    whose owner has died (``fiftyops up`` or standalone was killed) are leftovers: they hold the
    ports and the SQLite database, so a new start would talk to them or fail.

    :param airflow_home: the ``AIRFLOW_HOME`` a standalone is about to start in.
    :raises StandaloneFailed: the owner is alive; nothing was stopped.
    """
    owner_file = Path(airflow_home) / OWNER_FILE
    try:
        record = json.loads(owner_file.read_text())
    except (OSError, ValueError):
        return
    leftovers = processes_of(Path(airflow_home), record.get("groups", []))
    if not leftovers:
        return
    owner = _live_owner(record)
    if owner is not None and owner != os.getpid():
        raise StandaloneFailed(
            f"Airflow is already running in {airflow_home}, started by PID {owner}; "
            f"stop that one first (Ctrl-C where it runs, or kill {owner})."
        )
    for process in leftovers:
        _signal(process, signal.SIGTERM)
    _, alive = psutil.wait_procs(leftovers, timeout=15)
    for process in alive:
        _signal(process, signal.SIGKILL)
    psutil.wait_procs(alive, timeout=10)


def _live_owner(record: dict) -> int | None:
    """The PID of the owner ``record`` names if that very process still runs (not a reused PID)."""
    try:
        if psutil.Process(record["pid"]).create_time() == record["create_time"]:
            return record["pid"]
    except (KeyError, TypeError, ValueError, psutil.Error):
        pass
    return None


def _signal(process: psutil.Process, sig: signal.Signals) -> None:
    try:
        process.send_signal(sig)
    except psutil.NoSuchProcess:
        pass


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
