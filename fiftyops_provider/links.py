"""Airflow UI deep links and log paths for a task instance, and the "FiftyOps run" extra link.

The URL is exactly what Airflow 3 builds for ``TaskInstance.log_url`` (the task instance page,
whose first tab is the log): ``{base}/dags/{dag}/runs/{quoted run id}/tasks/{task}`` plus
``/mapped/{i}`` for a mapped instance and ``?try_number=N``. The log path is
``[logging] log_filename_template`` rendered the way the scheduler renders it, under
``[logging] base_log_folder``.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote

import jinja2
from airflow.sdk import BaseOperatorLink

from fiftyops_provider.airflow_compat import XCom, conf

DEFAULT_BASE_URL = "http://localhost:8080"
RUN_PAGE_PATH = "fiftyops/runs"


def task_instance_url(
    base_url: str, dag_id: str, run_id: str, task_id: str, try_number: int | None, map_index: int = -1
) -> str:
    """The task instance page at one attempt, built as ``RuntimeTaskInstance.log_url`` builds it.

    The run id is quoted with ``urllib.parse.quote``'s defaults, as the SDK does (``:`` and ``+``
    of manual run ids become ``%3A`` and ``%2B``; ``/`` is left alone, and Airflow's default
    ``[scheduler] allowed_run_id_pattern`` refuses it anyway), so our link and Airflow's own are
    the same string. No ``try_number`` (None or 0: not started) links to the latest attempt.
    """
    mapped = f"/mapped/{map_index}" if map_index is not None and map_index >= 0 else ""
    attempt = f"?try_number={try_number}" if try_number is not None and try_number > 0 else ""
    return f"{base_url.rstrip('/')}/dags/{dag_id}/runs/{quote(run_id)}/tasks/{task_id}{mapped}{attempt}"


class _TemplateTI:
    """The attributes Airflow's default ``log_filename_template`` reads from ``ti``; a custom
    template that reads others renders them empty (as Jinja renders undefined names)."""

    def __init__(self, dag_id: str, run_id: str, task_id: str, map_index: int, try_number: int) -> None:
        self.dag_id, self.run_id, self.task_id, self.map_index, self.try_number = (
            dag_id,
            run_id,
            task_id,
            map_index,
            try_number,
        )


def task_log_path(
    base_log_folder: str,
    log_filename_template: str,
    dag_id: str,
    run_id: str,
    task_id: str,
    try_number: int,
    map_index: int = -1,
) -> str:
    """Where the task's supervisor writes the log of this attempt: ``log_filename_template``
    rendered with Jinja, with ``ti`` and ``try_number``, as the scheduler renders it for the
    workload (``airflow.utils.helpers.log_filename_template_renderer``), under
    ``base_log_folder``. Only meaningful with local or served logs (the file is on the worker)."""
    ti = _TemplateTI(dag_id, run_id, task_id, map_index, try_number)
    relative = jinja2.Template(log_filename_template).render(ti=ti, try_number=try_number)
    return os.path.join(base_log_folder, relative)


def base_url() -> str:
    """``[fiftyops] base_url``, else ``[api] base_url``, else Airflow's own fallback."""
    return conf.get("fiftyops", "base_url", fallback="") or conf.get("api", "base_url", fallback="") or DEFAULT_BASE_URL


def task_url_for(ti: Any) -> str:
    """The UI deep link of a runtime task instance (the ``ti`` of a task's context), on
    ``base_url()``: the same as ``ti.log_url`` unless ``[fiftyops] base_url`` overrides it."""
    return task_instance_url(base_url(), ti.dag_id, ti.run_id, ti.task_id, ti.try_number, ti.map_index)


def task_log_path_for(ti: Any) -> str:
    """The log file of a runtime task instance's current attempt, from ``[logging]`` settings."""
    return task_log_path(
        conf.get("logging", "base_log_folder"),
        conf.get("logging", "log_filename_template"),
        ti.dag_id,
        ti.run_id,
        ti.task_id,
        ti.try_number,
        ti.map_index,
    )


class FiftyOpsRunLink(BaseOperatorLink):
    """The task's "FiftyOps run" button: the operation's Run page. A task whose operation runs for
    a while pushes the URL early, so the link works while the operation runs, not only after.
    When the task ends, Airflow asks ``get_link`` in the task process: the operator already knows
    the URL (``run_page_url``), so no XCom is read back."""

    name = "FiftyOps run"

    @staticmethod
    def url_for(operation_id: str) -> str:
        return f"{base_url().rstrip('/')}/{RUN_PAGE_PATH}/{operation_id}"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        return getattr(operator, "run_page_url", None) or XCom.get_value(ti_key=ti_key, key=self.xcom_key) or ""
