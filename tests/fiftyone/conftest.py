"""Fixtures for the tests that need the real ``fiftyone`` (marked ``fiftyone``): its interpreter
(``scripts/bootstrap_fiftyone.sh`` builds it; ``scripts/test.sh`` does that first) and a way to run
FiftyOne code in it against the test database."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
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


FIFTYONE_PLUGIN = """
import time
import fiftyone.operators as foo
import fiftyone.operators.types as types


class Slow(foo.Operator):
    @property
    def config(self):
        return foo.OperatorConfig(name="slow", label="Slow", allow_delegated_execution=True)

    def resolve_input(self, ctx):
        inputs = types.Object()
        inputs.int("steps", required=True, label="Steps", min=1)
        inputs.str("partial", default="")
        return types.Property(inputs)

    def execute(self, ctx):
        steps = ctx.params["steps"]
        for i in range(steps):
            ctx.set_progress(progress=i / steps, label=f"step {i}")
            try:
                ctx.check_for_termination()  # FiftyOps' kill checkpoint on FiftyOne's context
            except Exception:
                with open(ctx.params["partial"], "w") as out:
                    out.write(f"saved at step {i}")
                raise
            time.sleep(0.3)
        token_ok = ctx.secrets["SLOW_TOKEN"] == "s3cret"
        return {"version": "%s", "token_ok": token_ok, "steps": steps, "op": str(ctx._delegated_operation_id)}


def register(p):
    p.register(Slow)
"""


def write_fiftyone_plugin(root: Path, version: str = "registry", code: str | None = None) -> Path:
    """``@test/slow``: a FiftyOne plugin (``FIFTYONE_PLUGIN`` returning ``version``, or ``code``)."""
    root.mkdir(parents=True)
    (root / "fiftyone.yml").write_text(
        'name: "@test/slow"\ntype: plugin\noperators:\n  - slow\nsecrets:\n  - SLOW_TOKEN\n'
    )
    (root / "__init__.py").write_text(textwrap.dedent(code if code is not None else FIFTYONE_PLUGIN % version))
    return root
