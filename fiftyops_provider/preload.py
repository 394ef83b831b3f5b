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
connection exists before a fork, so forking stays safe. It imports nothing of Airflow, because
``airflow_local_settings`` is imported while Airflow itself is still initialising.
"""

from __future__ import annotations

# Each of these brings in the rest: pymongo (with its async client, which the triggers use),
# the executor (the store and the child's modules), the plugin registry (GridFS).
import pymongo  # noqa: F401

import fiftyops_provider.execution.executor
import fiftyops_provider.execution.task_attempts
import fiftyops_provider.plugins.registry  # noqa: F401
