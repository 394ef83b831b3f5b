"""An operator that reports what its child process looks like from the inside, and the
``OperatorSource`` serving it (``source="isolation_operators:make_source"``), for the tests of how
the executor starts children (test_child_start.py)."""

from __future__ import annotations

import logging
import os
import signal
import sys
from typing import Any

from pymongo.database import Database

from fiftyops_provider.database import get_client
from fiftyops_provider.plugins import Operator, OperatorConfig, OperatorNotFound

SOURCE = "isolation_operators:make_source"
PROBE = "@test/isolation/probe"
SECRET = "ISOLATION_TOKEN"


class Probe(Operator):
    """Returns its process ids, open file descriptors' targets, selected environment variables,
    which of ``params.modules`` are imported, its SIGTERM handler and the identity of its cached
    MongoDB client for ``params.client_for``; logs to ``params.logger``."""

    @property
    def config(self) -> OperatorConfig:
        return OperatorConfig("probe")

    def execute(self, ctx):
        logging.getLogger(ctx.params.get("logger", "isolation")).warning("probe log line")
        fds = {}
        for name in os.listdir("/proc/self/fd"):
            try:
                fds[name] = os.readlink(f"/proc/self/fd/{name}")
            except OSError:  # the directory listing's own fd, closed by now
                pass
        return {
            "pid": os.getpid(),
            "pgid": os.getpgrp(),
            "sid": os.getsid(0),
            "fd_targets": sorted(fds.values()),
            "stdio": [fds.get(str(fd)) for fd in (0, 1, 2)],
            "env": {key: os.environ.get(key) for key in ctx.params.get("env", [])},
            "ctx_secret": ctx.secret(SECRET),
            "modules": {name: name in sys.modules for name in ctx.params.get("modules", [])},
            "sigterm": repr(signal.getsignal(signal.SIGTERM)),
            "client_id": id(get_client(ctx.params["client_for"])) if "client_for" in ctx.params else None,
        }


class IsolationSource:
    def __init__(self, db: Database) -> None:
        self.db = db

    def load_operator(self, operator_uri: str) -> Operator:
        if operator_uri != PROBE:
            raise OperatorNotFound(f"No operator {operator_uri!r} in @test/isolation.")
        return Probe()

    def check_runnable(self, operator_uri: str, user: str | None, dataset_id: Any, dataset_name: str | None) -> None:
        self.load_operator(operator_uri)

    def declared_secrets(self, operator_uri: str) -> list[str]:
        return [SECRET]

    def load_dataset(self, dataset_id: Any, dataset_name: str | None) -> Any:
        return None


def make_source(db: Database) -> IsolationSource:
    return IsolationSource(db)
