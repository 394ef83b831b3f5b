"""Import, once and ahead of time, what an operation task needs before it can claim its operation.

Airflow's LocalExecutor workers and Celery's prefork workers fork every task process from a
long-lived parent. A module imported in that parent is already there in every task: without it,
each FiftyOps task start pays about 0.2 s importing pymongo, the store, the plugin registry and the
executor before its claim, which is most of the gap between an operation's ``queued -> running``
and a plain task's start. The operation's own child process, forked from the task, inherits them
too.

Enable it where the deployment imports its own code into every Airflow component, its
``airflow_local_settings.py`` (``$AIRFLOW_HOME/config``): ``import fiftyops_provider.preload``.
``fiftyops up`` and ``docker-compose.airflow.yml`` do. It only imports: no client, thread or
connection exists before a fork, so forking stays safe.

It imports in two steps, because ``airflow_local_settings`` is imported while Airflow itself is
still initialising, and importing Airflow from there would re-enter a half-initialised package:
- at once, the Airflow-free part (pymongo, the store, the executor, the plugin registry);
- the Airflow side (the DAG factory, the operator and hook it builds the DAG with, the modules
  Airflow loads to build a DAG), once Airflow has initialised: right after the process imports a
  task-forking executor's module (``WORKER_MODULES``: the LocalExecutor's, in the scheduler
  before it starts its workers; the Celery app's, in a Celery worker before its pool forks). A
  task start then only parses its DAG file instead of importing about 50 modules first (~55 ms
  on an idle machine, three times that under load).
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Sequence
from importlib.abc import Loader, MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType

# Each of these brings in the rest: pymongo (with its async client, which the triggers use),
# the executor (the store and the child's modules), the plugin registry (GridFS).
import pymongo  # noqa: F401

import fiftyops_provider.execution.executor
import fiftyops_provider.execution.task_attempts
import fiftyops_provider.plugins.registry  # noqa: F401

logger = logging.getLogger(__name__)

# The modules of the processes that fork Airflow's task processes; importing one means Airflow
# has initialised.
WORKER_MODULES = frozenset(
    {"airflow.executors.local_executor", "airflow.providers.celery.executors.celery_executor_utils"}
)
# What a task start imports while it parses the FiftyOps DAG file: the factory (the operator,
# its hook, Airflow's SDK), the timetable modules Airflow loads when it builds a DAG and the cache
# of its connection lookup (named by Airflow 3.3; a name an Airflow version lacks is skipped).
AIRFLOW_SIDE = (
    "fiftyops_provider.dag_factory.factory",
    "airflow.sdk.definitions.timetables.interval",
    "airflow.sdk.definitions.timetables.trigger",
    "airflow.sdk.execution_time.cache",
)


def import_airflow_side() -> None:
    """Import ``AIRFLOW_SIDE``. Never fails the process importing it: a module that cannot be
    imported here is logged and left to the task start, which then reports its error."""
    for name in AIRFLOW_SIDE:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a missing dependency, not an Airflow version without this module
                logger.warning("FiftyOps preload: cannot import %s", name, exc_info=True)
        except Exception:
            logger.warning("FiftyOps preload: cannot import %s", name, exc_info=True)


def _then_import_airflow_side(loader: Loader) -> None:
    """Make ``loader``'s module loading end with ``import_airflow_side``."""
    load = loader.exec_module

    def exec_module(module: ModuleType) -> None:
        load(module)
        import_airflow_side()

    loader.exec_module = exec_module  # type: ignore[method-assign]


class _AfterWorkerModule(MetaPathFinder):
    """Finds nothing itself: it has the next finders find a ``WORKER_MODULES`` module, whose
    loading then ends with ``import_airflow_side``."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname not in WORKER_MODULES:
            return None
        for finder in sys.meta_path[sys.meta_path.index(self) + 1 :]:
            spec = finder.find_spec(fullname, path, target) if hasattr(finder, "find_spec") else None
            if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
                _then_import_airflow_side(spec.loader)
                return spec
        return None


if not any(isinstance(finder, _AfterWorkerModule) for finder in sys.meta_path):
    sys.meta_path.insert(0, _AfterWorkerModule())
