"""``fiftyops demo --exit``: the README's main job, end to end, leaving no process behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fiftyops_provider.stacks.embedded_mongo import EmbeddedMongo, free_port

pytestmark = pytest.mark.airflow


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


def test_demo_runs_every_example_operation_and_stops_everything(tmp_path):
    home = tmp_path / "home"
    db_port = free_port()
    env = {**os.environ, "FIFTYOPS_HOME": str(home), "FIFTYOPS_DB_PORT": str(db_port)}
    env.pop("FIFTYOPS_DATABASE_URI", None)  # the embedded default
    fiftyops = Path(sys.executable).parent / "fiftyops"
    result = subprocess.run(
        [str(fiftyops), "demo", "--exit", "--port", str(free_port())],
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
    assert EmbeddedMongo(dbpath=home / "db", port=db_port).recorded_pid() is None
    assert processes_mentioning(str(home)) == []
