"""A distributed Airflow deployment on one machine, every part a real process stopped by PID.

What ``docker-compose.airflow.yml`` describes, without Docker: PostgreSQL (Airflow's metadata
database), Redis (the Celery broker), a MongoDB replica set of three members (the operation
store), and Airflow 3 with the CeleryExecutor: the api-server, the scheduler, the dag-processor,
two triggerers and two Celery workers.

The Airflow settings come from the compose file's ``x-airflow-common`` environment
(``compose_settings``); this module only moves the services onto free loopback ports and adds what
several processes on one machine need (``cluster_overrides``).

Each worker behaves like a host of its own: its own ``AIRFLOW_HOME``, Airflow log folder,
``FIFTYOPS_HOME`` (FiftyOps logs, plugin cache), Celery node name, and a loopback address of its
own (``127.X.Y.Z``) which it records as the tasks' hostname and serves its task logs on, so the
api-server fetches each task's log from the worker that ran it. The workers share only Airflow
(PostgreSQL, Redis, the api-server) and MongoDB. The control components (api-server, scheduler,
dag-processor, triggerers) share a home of their own. Run as root (CI), the control components
also cannot see the workers' files, as on separate hosts: each starts in a mount namespace of its
own with an empty file system over the workers' homes (``unshare``), so what the api-server shows
of a worker's run comes from the worker's log server or from MongoDB, never from its disk.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from fiftyops_provider.dag_factory.naming import POOL_NAME
from fiftyops_provider.database import get_client
from fiftyops_provider.hooks.airflow_rest_client import AirflowAPI
from fiftyops_provider.plugins.registry import PluginRegistry
from fiftyops_provider.stacks.compose_settings import (
    compose_airflow_environment,
    relocate,
    replica_set_name,
)
from fiftyops_provider.stacks.demo import REPO_ROOT, install_example_plugins
from fiftyops_provider.stacks.local import airflow_connection
from fiftyops_provider.stacks.mongo_replica_set import MongoReplicaSet
from fiftyops_provider.stacks.postgres_server import PostgresServer
from fiftyops_provider.stacks.processes import kill_tree, spawn, stop_groups
from fiftyops_provider.stacks.redis_server import RedisServer
from fiftyops_provider.stacks.standalone import HEALTH_PATH, write_local_settings

ADMIN = "admin"
CONTROL = "control"
API_TIMEOUT = 120.0
HOSTS = "hosts"  # the workers' homes, under base_dir
EMPTY_CONFIG = "# Every setting comes from the environment: see fiftyops_provider/stacks/cluster.py.\n"
DEFAULT_QUEUE = "default"
# The heartbeat FiftyOps' executor writes, in seconds: a run whose worker died leaves `running`
# (by its on_reset policy) once its heartbeat is 3x this old.
HEARTBEAT_INTERVAL = 2
REAP_INTERVAL = 5  # and the dispatcher looks for such runs this often


class ClusterFailed(RuntimeError):
    """A part of the cluster did not start; the message names its log."""


@dataclass
class Component:
    """One Airflow process (and, for a worker, its log server)."""

    name: str
    command: list[str]
    home: Path
    env: dict[str, str]
    process: subprocess.Popen | None = None
    log_server: list[str] | None = None
    log_server_process: subprocess.Popen | None = None

    @property
    def log_file(self) -> Path:
        return self.home / f"{self.name}.log"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class WorkerSpec:
    name: str
    queues: tuple[str, ...] = (DEFAULT_QUEUE,)


@dataclass
class ClusterStack:
    """The cluster under ``base_dir`` (created world-traversable: PostgreSQL runs as its own user).

    :param workers: the Celery workers to start with the cluster.
    :param triggerers: how many triggerers.
    :param quota: the ``fiftyops`` pool's slots (``[fiftyops] execution_quota``).
    :param concurrency: task slots per worker.
    :param extra_env: settings for every Airflow component, over the compose file's.
    :param plugins: plugin directories installed with the example plugins, before Airflow starts.
    """

    base_dir: Path
    workers: list[WorkerSpec] = field(default_factory=lambda: [WorkerSpec("worker1"), WorkerSpec("worker2")])
    triggerers: int = 2
    quota: int = 4
    concurrency: int = 2
    extra_env: dict[str, str] = field(default_factory=dict)
    plugins: list[Path] = field(default_factory=list)
    components: dict[str, Component] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.base_dir = Path(self.base_dir)
        self.base_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.base_dir, 0o755)
        self.postgres = PostgresServer(self.base_dir / "postgres")
        self.redis = RedisServer(self.base_dir / "redis")
        compose = compose_airflow_environment({})
        self.mongo = MongoReplicaSet(self.base_dir / "mongo", name=replica_set_name(compose["FIFTYOPS_DATABASE_URI"]))
        self.database_name = compose["FIFTYOPS_DATABASE_NAME"]
        self.api_port = _free_port("127.0.0.1")
        # One /24 of the loopback range per cluster: worker i is .(10 + i), all on one log port.
        self.address_prefix = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}"
        self.worker_log_port = _free_port("127.0.0.1", *(self._worker_address(i) for i in range(8)))
        self.password = secrets.token_urlsafe(12)
        self.secret_key = secrets.token_urlsafe(24)
        self.jwt_secret = secrets.token_urlsafe(32)
        from cryptography.fernet import Fernet  # imported here: the CLI imports this module's errors

        self.fernet_key = Fernet.generate_key().decode()

    # -- addresses and settings ---------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def api(self) -> AirflowAPI:
        """A REST client as the admin (generous timeouts: a loaded 2-core machine answers slowly)."""
        return AirflowAPI(self.base_url, ADMIN, self.password, timeout=API_TIMEOUT)

    @property
    def db(self):
        return get_client(self.mongo.uri)[self.database_name]

    def _worker_address(self, index: int) -> str:
        return f"{self.address_prefix}.{10 + index}"

    def common_environment(self) -> dict[str, str]:
        """The compose file's Airflow settings, moved onto this machine, plus ``cluster_overrides``."""
        variables = {
            "AIRFLOW_JWT_SECRET": self.jwt_secret,
            "AIRFLOW_SECRET_KEY": self.secret_key,
            "AIRFLOW_FERNET_KEY": self.fernet_key,
            "AIRFLOW_ADMIN_PASSWORD": self.password,
            "FIFTYOPS_EXECUTION_QUOTA": str(self.quota),
        }
        compose = compose_airflow_environment(variables)
        store_connection = json.loads(compose.pop("AIRFLOW_CONN_FIFTYOPS_DEFAULT"))
        compose.pop("FIFTYOPS_DATABASE_URI")
        api = f"127.0.0.1:{self.api_port}"
        env = relocate(
            compose,
            {
                "postgres": f"127.0.0.1:{self.postgres.port}",
                "redis:6379": f"127.0.0.1:{self.redis.port}",
                "airflow-apiserver:8080": api,
                "localhost:8080": api,
            },
        )
        env["FIFTYOPS_DATABASE_URI"] = self.mongo.uri
        env["AIRFLOW_CONN_FIFTYOPS_DEFAULT"] = airflow_connection(self.mongo.uri, store_connection["schema"])
        env.update(self.cluster_overrides())
        env.update(self.extra_env)
        return env

    def cluster_overrides(self) -> dict[str, str]:
        """What differs from the compose file, and why: paths of this machine, one api-server
        port, the workers' log port, and shorter timeouts so failures show within a test."""
        return {
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.password_file),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self.worker_log_port),
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.concurrency),
            # A finished task's pool slot is freed within a second, not at the next 5 s select.
            "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "60",
            "AIRFLOW__FIFTYOPS__HEARTBEAT_INTERVAL": str(HEARTBEAT_INTERVAL),
            "AIRFLOW__FIFTYOPS__REAP_INTERVAL": str(REAP_INTERVAL),
        }

    @property
    def password_file(self) -> Path:
        return self.base_dir / "auth" / "passwords.json"

    def _component(self, name: str, command: list[str], home: Path, **env: str) -> Component:
        venv_bin = str(Path(sys.executable).parent)
        fiftyops_home = home / "fiftyops"
        component_env = {
            **os.environ,
            **self.common_environment(),
            "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "FIFTYOPS_HOME": str(fiftyops_home),
            "FIFTYOPS_LOG_PATH": str(fiftyops_home / "logs"),
            "FIFTYOPS_PLUGIN_CACHE": str(fiftyops_home / "plugins"),
            **env,
        }
        return Component(name, command, home, component_env)

    @property
    def hosts_dir(self) -> Path:
        return self.base_dir / HOSTS

    @property
    def isolates_hosts(self) -> bool:
        """Whether the control components are kept from the workers' files (root and ``unshare``)."""
        return os.geteuid() == 0 and shutil.which("unshare") is not None

    def on_control_host(self, command: list[str]) -> list[str]:
        """``command`` as run on the control host: unable to see the workers' files."""
        if not self.isolates_hosts:
            return command
        hide = f'mount -t tmpfs fiftyops-hosts {shlex.quote(str(self.hosts_dir))} && exec "$@"'
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c", hide, "sh", *command]

    def _control_components(self) -> list[Component]:
        home = self.base_dir / CONTROL
        components = [
            self._component("api-server", self.on_control_host(["airflow", "api-server"]), home),
            self._component("scheduler", self.on_control_host(["airflow", "scheduler"]), home),
            self._component("dag-processor", self.on_control_host(["airflow", "dag-processor"]), home),
        ]
        for index in range(1, self.triggerers + 1):
            components.append(
                self._component(
                    f"triggerer{index}",
                    self.on_control_host(["airflow", "triggerer"]),
                    home,
                    AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(_free_port("0.0.0.0")),
                )
            )
        return components

    @property
    def control_env(self) -> dict[str, str]:
        """The control host's environment (e.g. for the ``fiftyops`` CLI there)."""
        return dict(self.components["api-server"].env)

    def _worker_component(self, spec: WorkerSpec, index: int) -> Component:
        address = self._worker_address(index)
        component = self._component(
            spec.name,
            [
                "airflow",
                "celery",
                "worker",
                "--celery-hostname",
                f"{spec.name}@%h",
                "-q",
                ",".join(spec.queues),
                "-c",
                str(self.concurrency),
                "--skip-serve-logs",
            ],
            self.hosts_dir / spec.name,
            FIFTYOPS_CLUSTER_HOSTNAME=address,
            AIRFLOW__CORE__HOSTNAME_CALLABLE="fiftyops_provider.stacks.cluster_hostname.hostname",
        )
        # Airflow's own log server app, bound to the worker's address only (the built-in one binds
        # every address, so the second worker's would fail on the shared port).
        component.log_server = [
            *(sys.executable, "-m", "uvicorn", "--factory", "airflow.utils.serve_logs.log_server:get_app"),
            *("--host", address, "--port", str(self.worker_log_port), "--log-level", "warning"),
        ]
        return component

    # -- starting ------------------------------------------------------------------------------
    def start(self, timeout: float = 600.0) -> None:
        """Databases, broker and store; the example plugins; then every Airflow component at once.
        Returns when the api-server is healthy, the pool exists and every worker answers a ping."""
        started = time.monotonic()
        try:
            self.postgres.start()
            self.redis.start()
            self.mongo.start()
            with _patched_environ(
                FIFTYOPS_DATABASE_URI=self.mongo.uri,
                FIFTYOPS_DATABASE_NAME=self.database_name,
                FIFTYOPS_HOME=str(self.base_dir / "admin"),
            ):
                install_example_plugins(self.db, acting_user=ADMIN)
                for plugin in self.plugins:
                    PluginRegistry(self.db).install(plugin, overwrite=True, acting_user=ADMIN)
            self.hosts_dir.mkdir(parents=True, exist_ok=True)
            self.password_file.parent.mkdir(parents=True, exist_ok=True)
            self.password_file.write_text(json.dumps({ADMIN: self.password}))
            control = self._control_components()
            workers = [self._worker_component(spec, i) for i, spec in enumerate(self.workers)]
            self._prepare_homes([control[0], *workers])
            for worker in workers:  # the slowest to be ready; they need no migrated database to start
                self._launch(worker)
            self._run_once(control[0], ["airflow", "db", "migrate"], timeout)
            for component in control:
                self._launch(component)
            self._wait_ready(workers, started + timeout)
            self._create_pool(started + timeout)
        except BaseException:
            self.stop()
            raise

    def add_worker(self, spec: WorkerSpec, timeout: float = 120.0) -> Component:
        """Start one more Celery worker (e.g. one listening only on ``gpu``) and wait until it
        answers a ping."""
        component = self._worker_component(spec, len([c for c in self.components.values() if c.log_server]))
        self._prepare_homes([component])
        self._launch(component)
        self._wait_workers([component], time.monotonic() + timeout)
        return component

    def _prepare_homes(self, components: list[Component]) -> None:
        """Each home's ``airflow.cfg`` and the provider preload. The settings all come from the
        environment; an empty ``airflow.cfg`` stops Airflow from writing one with fresh keys on
        first import (racing between the processes sharing a home, and slow on a loaded machine)."""
        for component in components:
            component.home.mkdir(parents=True, exist_ok=True)
            write_local_settings(component.home)
            config = component.home / "airflow.cfg"
            if not config.exists():
                config.write_text(
                    "# Every setting comes from the environment (see fiftyops_provider/stacks/cluster.py).\n"
                )

    def _run_once(self, component: Component, command: list[str], timeout: float) -> None:
        result = subprocess.run(
            command, env=component.env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
        if result.returncode != 0:
            raise ClusterFailed(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")

    def _launch(self, component: Component) -> None:
        component.process = spawn(component.command, component.log_file, component.env, cwd=component.home)
        if component.log_server:
            component.log_server_process = spawn(
                component.log_server, component.home / f"{component.name}-log-server.log", component.env
            )
        self.components[component.name] = component

    def _wait_ready(self, workers: list[Component], deadline: float) -> None:
        while not self._api_healthy():
            self._check_alive(deadline)
            time.sleep(0.5)
        self._wait_workers(workers, deadline)

    def _create_pool(self, deadline: float) -> None:
        """The ``fiftyops`` pool, retried while the fresh api-server still times out."""
        while True:
            try:
                self.api.create_pool(POOL_NAME, self.quota, "FiftyOps execution quota")
                return
            except requests.RequestException:
                self._check_alive(deadline)

    def _wait_workers(self, workers: list[Component], deadline: float) -> None:
        wanted = {c.name for c in workers}
        while not wanted <= self.answering_workers():
            self._check_alive(deadline)
            time.sleep(1)

    def _check_alive(self, deadline: float) -> None:
        for component in self.components.values():
            if component.process is not None and component.process.poll() is not None:
                code = component.process.returncode
                raise ClusterFailed(f"{component.name} exited with {code}; see {component.log_file}")
        if time.monotonic() > deadline:
            raise ClusterFailed(f"the cluster was not ready in time; logs under {self.base_dir}")

    def _api_healthy(self) -> bool:
        try:
            return requests.get(self.base_url + HEALTH_PATH, timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def answering_workers(self) -> set[str]:
        """The workers (by name) that answer a Celery ping now (through the broker; no Airflow
        import, which costs seconds on a loaded machine)."""
        from celery import Celery

        with Celery(broker=self.redis.url) as app:
            replies = app.control.ping(timeout=1.0)
        return {node.split("@", 1)[0] for reply in replies for node in reply}

    # -- failures and restarts -----------------------------------------------------------------
    def kill(self, name: str) -> None:
        """SIGKILL a component and everything it started, as if its host died (a worker with its
        tasks and their operations, a worker's log server)."""
        component = self.components[name]
        for process in (component.process, component.log_server_process):
            if process is not None:
                kill_tree(process)

    def worker_address(self, name: str) -> str:
        """The loopback address a worker records as its tasks' hostname."""
        return self.components[name].env["FIFTYOPS_CLUSTER_HOSTNAME"]

    def worker_home(self, name: str) -> Path:
        return self.components[name].home

    def remove(self, name: str) -> None:
        """Stop a component (and a worker's log server) for good, by PID."""
        component = self.components.pop(name)
        stop_groups([component.process, component.log_server_process], timeout=20)

    def restart(self, name: str) -> None:
        """Start a component again with its own home and settings (after ``kill``)."""
        component = self.components[name]
        stop_groups([component.process, component.log_server_process], timeout=5)
        self._launch(component)

    # -- stopping ------------------------------------------------------------------------------
    def stop(self) -> None:
        """Every process this cluster started, by PID: Airflow first, then the servers."""
        processes = []
        for component in self.components.values():
            processes += [component.process, component.log_server_process]
        stop_groups(processes, timeout=25)
        for component in self.components.values():
            component.process = component.log_server_process = None
        self.redis.stop()
        self.postgres.stop()
        self.mongo.stop()


def _free_port(*addresses: str) -> int:
    """A port nothing listens on at any of ``addresses`` (tried on the first, checked on all)."""
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind((addresses[0], 0))
            port = sock.getsockname()[1]
        try:
            for address in addresses[1:]:
                with socket.socket() as sock:
                    sock.bind((address, port))
        except OSError:
            continue
        return port
    raise ClusterFailed(f"no port free on all of {addresses}")


class _patched_environ:
    """Set some environment variables for a ``with`` block (the plugin install reads settings)."""

    def __init__(self, **values: str) -> None:
        self.values = values
        self.saved: dict[str, str | None] = {}

    def __enter__(self) -> None:
        for key, value in self.values.items():
            self.saved[key] = os.environ.get(key)
            os.environ[key] = value

    def __exit__(self, *exc: object) -> None:
        for key, value in self.saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
