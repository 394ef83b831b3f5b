"""``fiftyops demo --exit``, then ``fiftyops up`` on the same home, again after Airflow was killed
and after a crash of everything: the README's main job and every restart of it, end to end, each
leaving no process behind. One home for all the steps, as a user's machine has."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from fiftyops_provider.dag_factory.naming import POOL_NAME
from fiftyops_provider.hooks.airflow_rest_client import AirflowAPI
from fiftyops_provider.stacks.embedded_mongo import EmbeddedMongo, free_port
from fiftyops_provider.stacks.standalone import PASSWORD_FILE, processes_of

pytestmark = pytest.mark.airflow

FIFTYOPS = Path(sys.executable).parent / "fiftyops"
READY = "FiftyOps is up."


def processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


class Up:
    """A running ``fiftyops up``, its output collected as it comes."""

    def __init__(self, env: dict[str, str], port: int, quota: int) -> None:
        self.process = subprocess.Popen(
            [str(FIFTYOPS), "up", "--port", str(port), "--quota", str(quota)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=lambda: self.lines.extend(self.process.stdout), daemon=True)
        self._reader.start()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_ready(self, timeout: float = 420.0) -> None:
        deadline = time.monotonic() + timeout
        while READY not in self.output:
            assert self.process.poll() is None, f"fiftyops up exited with {self.process.returncode}:\n{self.output}"
            assert time.monotonic() < deadline, f"fiftyops up was not ready in {timeout:.0f}s:\n{self.output}"
            time.sleep(0.5)

    def wait_exit(self, timeout: float = 120.0) -> int:
        code = self.process.wait(timeout)
        self._reader.join(10)
        return code

    def standalone_pid(self) -> int:
        return next(c.pid for c in psutil.Process(self.process.pid).children() if "standalone" in c.cmdline())


def pool_slots(home: Path, port: int) -> int:
    password = json.loads((home / "airflow" / PASSWORD_FILE).read_text())["admin"]
    return AirflowAPI(f"http://127.0.0.1:{port}", "admin", password).pool(POOL_NAME)["slots"]


@pytest.mark.timeout(2400)  # four starts of the stack: 30-90 s each, up to 300 s on a loaded machine
def test_demo_then_up_restarts_after_a_stop_a_killed_airflow_and_a_crash(tmp_path):
    home = tmp_path / "home"
    db_port, port = free_port(), free_port()
    env = {**os.environ, "FIFTYOPS_HOME": str(home), "FIFTYOPS_DB_PORT": str(db_port)}
    env.pop("FIFTYOPS_DATABASE_URI", None)  # the embedded default
    mongo = EmbeddedMongo(dbpath=home / "db", port=db_port)
    try:
        # 1. The demo runs every example operation and stops everything.
        result = subprocess.run(
            [str(FIFTYOPS), "demo", "--exit", "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            stdin=subprocess.DEVNULL,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        table = result.stdout.split("OPERATION")[-1]
        for label, state in (
            ("Count samples", "completed"),
            ("Sleep", "completed"),
            ("Compute name_length", "completed"),
            ("Fail on purpose", "failed"),
            ("Measure and export", "completed"),
        ):
            line = next(line for line in table.splitlines() if line.startswith(label))
            assert f" {state} " in line and "/dags/fiftyops__" in line, line
        assert mongo.recorded_pid() is None
        assert processes_mentioning(str(home)) == [] and processes_of(home / "airflow") == []

        # 2. `up` on the demo's home: the pool exists and takes the new quota.
        up = Up(env, port, quota=3)
        up.wait_ready()
        assert pool_slots(home, port) == 3

        # 3. Airflow is killed under `up`: up says so, stops the rest and exits.
        os.kill(up.standalone_pid(), signal.SIGKILL)
        assert up.wait_exit() == 1, up.output
        assert "airflow standalone exited with -9" in up.output
        assert processes_of(home / "airflow") == [] and mongo.recorded_pid() is None

        # 4. `up` again (a second `up` beside it is refused), then a crash: `up`, standalone and
        # mongod SIGKILLed. Standalone's
        # children live on (holding the ports), mongod leaves its lock and a dead PID on record.
        up = Up(env, port, quota=5)
        up.wait_ready()
        assert pool_slots(home, port) == 5
        second = Up(env, port, quota=5)  # on a home in use: refused, the running one untouched
        assert second.wait_exit() == 1, second.output
        assert f"started by PID {up.process.pid}" in second.output
        orphans = [p.pid for p in processes_of(home / "airflow")]
        mongod = mongo.recorded_pid()
        for pid in (up.process.pid, up.standalone_pid(), mongod):
            os.kill(pid, signal.SIGKILL)
        up.wait_exit()
        assert (home / "db" / "mongod.lock").stat().st_size > 0
        assert any(psutil.pid_exists(pid) for pid in orphans)

        # 5. `up` after the crash: the leftovers are stopped, the stack serves; Ctrl-C stops all.
        up = Up(env, port, quota=2)
        up.wait_ready()
        assert not [pid for pid in orphans if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
        assert pool_slots(home, port) == 2
        up.process.send_signal(signal.SIGINT)
        assert up.wait_exit() == 0, up.output
        assert mongo.recorded_pid() is None
        assert processes_mentioning(str(home)) == [] and processes_of(home / "airflow") == []
    finally:
        for process in processes_of(home / "airflow"):  # only after a failure
            process.kill()
        mongo.stop()
