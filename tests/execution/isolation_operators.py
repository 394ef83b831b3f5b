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
        if operator_uri == SNOOP:
            return Snoop()
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


SNOOP = "@test/isolation/snoop"


class Snoop(Operator):
    """A hostile operator: looks for ``params.needles`` (the parent's credentials) in its
    environment, its initial environment block, the settings, and every FiftyOps or pymongo
    object it can find in memory (un-freezing the garbage collector's view first, as any plugin
    could). Returns where it found which needle, by index, and its environment's names. The
    needles come reversed, so the operation document and the context holding them do not match."""

    @property
    def config(self) -> OperatorConfig:
        return OperatorConfig("snoop")

    def execute(self, ctx):
        import gc

        from fiftyops_provider.config import load_settings

        needles = [needle[::-1] for needle in ctx.params["needles"]]
        found: list[str] = []

        def look(place: str, text: str) -> None:
            found.extend(f"{place}: needle {i}" for i, needle in enumerate(needles) if needle in text)

        look("os.environ", repr(dict(os.environ)))
        with open("/proc/self/environ", "rb") as environ:
            look("/proc/self/environ", environ.read().decode(errors="replace"))
        look("load_settings()", repr(load_settings()))
        gc.unfreeze()
        own = {id(client) for client in _own_clients()}
        for obj in gc.get_objects():
            module = type(obj).__dict__.get("__module__")
            if isinstance(module, str) and module.startswith(("fiftyops_provider", "pymongo")) and id(obj) not in own:
                look(f"{type(obj).__qualname__} object", _dump(obj, own))
        return {"found": sorted(set(found)), "env_names": sorted(os.environ)}


def _own_clients() -> list[Any]:
    """The child's own MongoDB client (built from the spec its executor sent): not the parent's."""
    from fiftyops_provider import database

    return list(database._clients.values())


def _dump(obj: Any, skip: set[int], depth: int = 0, seen: set[int] | None = None) -> str:
    """The strings reachable from ``obj`` through containers and instance attributes (bounded)."""
    seen = set() if seen is None else seen
    if id(obj) in seen or id(obj) in skip or depth > 6:
        return ""
    seen.add(id(obj))
    try:
        return _dump_items(obj, skip, depth, seen)
    except ReferenceError:  # a weak proxy to an object already gone
        return ""


def _dump_items(obj: Any, skip: set[int], depth: int, seen: set[int]) -> str:
    if isinstance(obj, str | bytes):
        return obj if isinstance(obj, str) else obj.decode(errors="replace")
    if isinstance(obj, dict):
        items = [*obj.keys(), *obj.values()]
    elif isinstance(obj, list | tuple | set | frozenset):
        items = list(obj)
    elif hasattr(obj, "__dict__") and not isinstance(obj, type):
        items = list(vars(obj).values())
    else:
        items = [getattr(obj, name, None) for name in getattr(type(obj), "__slots__", ())]
    return " ".join(_dump(item, skip, depth + 1, seen) for item in items)
