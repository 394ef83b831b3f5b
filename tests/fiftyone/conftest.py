"""Fixtures for the tests that need the real ``fiftyone`` (marked ``fiftyone``): its interpreter
(``scripts/bootstrap_fiftyone.sh`` builds it; ``scripts/test.sh`` does that first) and a way to run
FiftyOne code in it against the test database."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def fiftyone_python() -> str:
    path = os.environ.get("FIFTYOPS_TEST_FIFTYONE_PYTHON") or str(ROOT / ".venv-fiftyone" / "bin" / "python")
    if not os.path.exists(path):
        pytest.skip("needs the FiftyOne venv: run `bash scripts/bootstrap_fiftyone.sh` (scripts/test.sh does)")
    return path


@pytest.fixture
def fiftyone(fiftyone_python, mongod, db, monkeypatch):
    """``fiftyone(code, database=None)``: run ``code`` in the FiftyOne interpreter on the test
    database (or ``database``); returns
    what it printed last, as JSON. FiftyOps (this process) runs FiftyOne operators there too."""
    monkeypatch.setenv("FIFTYOPS_FIFTYONE_PYTHON", fiftyone_python)
    env = {
        **os.environ,
        "FIFTYONE_DATABASE_URI": mongod.uri,
        "FIFTYONE_DATABASE_NAME": db.name,
        "FIFTYONE_DATABASE_ADMIN": "true",
        "FIFTYONE_DO_NOT_TRACK": "true",
    }

    def run(code: str, database: str | None = None):
        run_env = {**env, "FIFTYONE_DATABASE_NAME": database or db.name}
        done = subprocess.run(
            [fiftyone_python, "-c", code], env=run_env, capture_output=True, text=True, timeout=300, check=False
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    return run
