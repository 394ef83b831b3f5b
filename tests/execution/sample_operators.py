"""Real operators for the executor tests, and the ``OperatorSource`` that serves them.

Executors in the tests are told ``source="sample_operators:make_source"``: the parent and the
child process both build ``SampleSource`` from that path. Permissions and disabled operators live
in the test database (``sample_acl``), so a test can revoke a permission after queueing and both
processes see it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pymongo.database import Database

from fiftyops_provider.plugins import (
    Inputs,
    OperationTerminated,
    Operator,
    OperatorConfig,
    OperatorDisabled,
    OperatorNotFound,
    PermissionDenied,
    Pipeline,
    PipelineOperator,
)

PLUGIN = "@test/samples"
SOURCE = "sample_operators:make_source"
SECRET_KEYS = ["SAMPLE_TOKEN", "SAMPLE_UNSET"]
# Executor options for tests: this source and short intervals, so the suite stays fast.
FAST = {"source": SOURCE, "heartbeat_interval": 0.2, "termination_grace": 1.0, "progress_interval": 0.1}
log = logging.getLogger("sample_operators")


def uri(name: str) -> str:
    return f"{PLUGIN}/{name}"


def _mark(ctx: Any, name: str, text: str = "") -> None:
    """Append a line to ``<params.dir>/<name>``: how tests see what an operator did."""
    directory = ctx.params.get("dir")
    if directory:
        with open(Path(directory) / name, "a") as f:
            f.write(f"{ctx.operation_id} {text}\n")


class Quick(Operator):
    @property
    def config(self) -> OperatorConfig:
        return OperatorConfig("quick", allow_delegated_execution=True)

    def resolve_input(self, ctx):
        return Inputs().int("a", required=True).int("b", default=2).str("dir").str("tag")

    def resolve_output(self, ctx):
        return Inputs().int("sum")

    def execute(self, ctx):
        _mark(ctx, "quick", f"{ctx.params.get('tag', '')} {time.time()}")
        return {"sum": ctx.params["a"] + ctx.params["b"]}


class Progress(Operator):
    @property
    def config(self) -> OperatorConfig:
        return OperatorConfig("progress")

    def execute(self, ctx):
        ctx.set_progress(2.0, "not a fraction")  # rejected by the store; must not fail the run
        ctx.set_progress(0.25, "a quarter")
        time.sleep(ctx.params.get("pause", 1.0))
        ctx.set_progress(0.75, "three quarters")
        time.sleep(ctx.params.get("pause", 1.0))
        return {"done": True}


class Raising(Operator):
    @property
    def config(self) -> OperatorConfig:
        return OperatorConfig("raising")

    def execute(self, ctx):
        _mark(ctx, "raising")
        raise ValueError(f"boom: {ctx.params.get('why', 'no reason')}")


class Sleeper(Operator):
    """Works in small steps with a checkpoint between them; saves partial work when stopped."""

    on_reset = "failed"
    max_attempts = 1

    @property
    def config(self) -> OperatorConfig:
        return OperatorConfig(
            type(self).__name__.lower(), on_reset=self.on_reset, max_attempts=self.max_attempts, execution_timeout=60
        )

    def execute(self, ctx):
        steps = ctx.params.get("steps", 600)
        done = 0
        try:
            while done < steps:
                ctx.check_for_termination()
                time.sleep(ctx.params.get("step", 0.05))
                done += 1
        except OperationTerminated as exc:
            _mark(ctx, "partial", f"{done} {exc}")
            raise
        return {"steps": steps}


class SleeperRerun(Sleeper):
    on_reset = "rerun"
    max_attempts = 2


class Stubborn(Operator):
    """Never calls a checkpoint, and starts a grandchild process that would outlive it."""

    @property
    def config(self) -> OperatorConfig:
        return OperatorConfig("stubborn", execution_timeout=60)

    def execute(self, ctx):
        grandchild = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        _mark(ctx, "grandchild", str(grandchild.pid))
        end = time.monotonic() + ctx.params.get("seconds", 60)
        while time.monotonic() < end:
            sum(range(10_000))
        return {"finished": True}


class Chatty(Operator):
    """Prints, logs and writes to stderr; then keeps running a while so the tail can be watched."""

    @property
    def config(self) -> OperatorConfig:
        return OperatorConfig("chatty")

    def execute(self, ctx):
        for i in range(ctx.params.get("lines", 5)):
            print(f"printed line {i}")
        ctx.logger.info("logged through ctx.logger")
        log.warning("logged through a module logger")
        print("written to stderr", file=sys.stderr)
        if ctx.params.get("read_stdin"):
            print(f"stdin gave {sys.stdin.read()!r}")
        filler = ctx.params.get("filler_bytes", 0)
        chunk = "x" * 999
        for _ in range(filler // 1000):
            print(chunk)
        pause_end = time.monotonic() + ctx.params.get("pause", 0)
        while time.monotonic() < pause_end:
            ctx.check_for_termination()
            time.sleep(0.05)
        print("chatty done")
        return {"ok": True}


class SecretReader(Operator):
    @property
    def config(self) -> OperatorConfig:
        return OperatorConfig("secret_reader")

    def execute(self, ctx):
        token = ctx.secret("SAMPLE_TOKEN")
        print(f"the token is {token}")
        ctx.logger.info("env token %s", os.environ.get("SAMPLE_TOKEN"))
        if ctx.params.get("fail"):
            raise PermissionError(f"server rejected token {token}")
        return {
            "ctx_keys": sorted(ctx.secrets),
            "env": {key: key in os.environ for key in ("SAMPLE_TOKEN", "SAMPLE_UNDECLARED")},
            "token_sha256": hashlib.sha256((token or "").encode()).hexdigest(),
        }


class BadResult(Operator):
    @property
    def config(self) -> OperatorConfig:
        return OperatorConfig("bad_result")

    def execute(self, ctx):
        return {"values": {1, 2, 3}}


class DatasetProbe(Operator):
    @property
    def config(self) -> OperatorConfig:
        return OperatorConfig("dataset_probe")

    def execute(self, ctx):
        return {"dataset": ctx.dataset, "user": ctx.user, "run_doc": ctx.request_params["run_doc"]}


class PipelineProbe(Operator):
    """Reports ``ctx.pipeline`` of a pipeline child operation, then fails if asked."""

    @property
    def config(self) -> OperatorConfig:
        return OperatorConfig("pipeline_probe")

    def execute(self, ctx):
        if ctx.params.get("fail"):
            raise RuntimeError(f"child failed at stage {ctx.pipeline.curr_stage_index}")
        return {"total_stages": ctx.pipeline.total_stages, "stage": ctx.pipeline.curr_stage_index}


class Pipe(PipelineOperator):
    """quick -> (raising, if params.fail) -> quick -> cleanup (always_run)."""

    @property
    def config(self) -> OperatorConfig:
        return OperatorConfig("pipe")

    def resolve_pipeline(self, ctx):
        directory = ctx.params.get("dir")
        pipeline = Pipeline().stage(uri("quick"), name="first", params={"a": 1, "dir": directory, "tag": "first"})
        if ctx.params.get("fail"):
            pipeline.stage(uri("raising"), name="explode", params={"why": "stage failure", "dir": directory})
        if ctx.params.get("slow"):
            pipeline.stage(uri("sleeper"), name="slow", params={"steps": 20, "step": 0.05})
        pipeline.stage(uri("quick"), name="second", params={"a": 2, "dir": directory, "tag": "second"})
        pipeline.stage(uri("cleanup"), name="cleanup", params={"dir": directory}, always_run=True)
        return pipeline


class Cleanup(Operator):
    @property
    def config(self) -> OperatorConfig:
        return OperatorConfig("cleanup")

    def execute(self, ctx):
        _mark(ctx, "cleanup", f"active={ctx.pipeline.active} errors={ctx.pipeline.pipeline_errors}")


class Tally(Operator):
    """Counts its own executions in a collection of its own: the exactly-once witness (the store
    could say "completed" once while the work ran twice; this cannot)."""

    @property
    def config(self) -> OperatorConfig:
        return OperatorConfig("tally", allow_delegated_execution=True)

    def execute(self, ctx):
        from fiftyops_provider.database import get_database

        get_database().tally.update_one({"_id": ctx.operation_id}, {"$inc": {"runs": 1}}, upsert=True)
        return {"tallied": ctx.operation_id}


class Leaky(Operator):
    """Puts its declared secret (``SAMPLE_TOKEN``) everywhere an operator's text is stored: in a
    log line longer than the output pump reads at once, straddling that boundary; printed whole
    (a PEM key prints as several lines); in its progress label; in its result (values and keys)
    or, with ``params.fail``, in its error."""

    @property
    def config(self) -> OperatorConfig:
        return OperatorConfig("leaky")

    def execute(self, ctx):
        token = ctx.secret("SAMPLE_TOKEN")
        boundary = ctx.params.get("boundary", 65536)
        sys.stdout.write("x" * (boundary - len(token) // 2) + token + " end of long line\n")
        print(f"begin\n{token}\nend", flush=True)
        ctx.set_progress(0.5, f"using {token}")
        if ctx.params.get("fail"):
            raise RuntimeError(f"the server refused {token}")
        first_line = token.splitlines()[0]
        return {"plain": token, "nested": [f"<{token}>", {"deep": token}], f"key {first_line}": 1}


OPERATORS: dict[str, type[Operator]] = {
    uri(cls().config.name): cls
    for cls in (
        Quick,
        Progress,
        Raising,
        Sleeper,
        SleeperRerun,
        Stubborn,
        Chatty,
        SecretReader,
        Leaky,
        BadResult,
        DatasetProbe,
        PipelineProbe,
        Pipe,
        Cleanup,
        Tally,
    )
}


class SampleSource:
    def __init__(self, db: Database) -> None:
        self.db = db

    def load_operator(self, operator_uri: str) -> Operator:
        cls = OPERATORS.get(operator_uri)
        if cls is None:
            raise OperatorNotFound(f"No operator {operator_uri!r} in {PLUGIN}.")
        operator = cls()
        operator.plugin_name = PLUGIN
        return operator

    def check_runnable(self, operator_uri: str, user: str | None, dataset_id: Any, dataset_name: str | None) -> None:
        self.load_operator(operator_uri)
        if self.db.sample_acl.find_one({"uri": operator_uri, "disabled": True}):
            raise OperatorDisabled(f"Operator {operator_uri} is disabled.")
        if self.db.sample_acl.find_one({"uri": operator_uri, "user": user, "revoked": True}):
            raise PermissionDenied(f"User {user!r} may no longer run {operator_uri}.")

    def declared_secrets(self, operator_uri: str) -> list[str]:
        return list(SECRET_KEYS) if operator_uri in (uri("secret_reader"), uri("leaky")) else []

    def load_dataset(self, dataset_id: Any, dataset_name: str | None) -> Any:
        return {"id": dataset_id, "name": dataset_name}


def make_source(db: Database) -> SampleSource:
    return SampleSource(db)
