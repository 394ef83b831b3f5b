"""Airflow names FiftyOps uses, defined once (DAG factory, sensor, CLI and tests agree on them).

No Airflow import: the plugin registry checks at install time that every operator gets a valid,
unique DAG id (``dag_id_conflicts``), and the DAG factory skips the ones that do not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

DAG_PREFIX = "fiftyops__"
DISPATCHER_DAG_ID = f"{DAG_PREFIX}dispatcher"
EVENT_DISPATCHER_DAG_ID = f"{DAG_PREFIX}dispatcher_events"
DISPATCH_TASK_ID = "dispatch_operations"  # the dispatcher's task in dispatch_mode "direct"
QUEUE_ASSET_NAME = "fiftyops_operation_queue"
QUEUE_ASSET_URI = "fiftyops://operation-queue"
MAX_DAG_ID_LENGTH = 250  # Airflow's limit on DAG ids
OPERATOR_TASK_ID = "run_operation"
POOL_NAME = "fiftyops"


def operator_dag_id(operator_uri: str) -> str:
    """``@fiftyops/utils/count_samples`` -> ``fiftyops__fiftyops_utils__count_samples``.

    The plugin part keeps its org and name (``@org/plugin``), so two orgs' plugins of the same
    name get different DAGs; characters Airflow does not allow in ids become ``_``.
    """
    plugin, _, operator = operator_uri.rpartition("/")
    return f"{DAG_PREFIX}{_clean(plugin)}__{_clean(operator)}"


def dag_id_conflicts(uris: Iterable[str], others: Iterable[str]) -> dict[str, str]:
    """``{uri: why}`` for each of ``uris`` that cannot get a DAG of its own: an id over Airflow's
    length limit, or the id of an earlier one of ``uris`` or of ``others`` (operators already
    installed). Each reason is one sentence saying what to change; empty when all is well."""
    problems = {}
    taken = {operator_dag_id(uri): uri for uri in others}
    for uri in uris:
        dag_id = operator_dag_id(uri)
        if len(dag_id) > MAX_DAG_ID_LENGTH:
            problems[uri] = (
                f"operator {uri[:80]}... would be the Airflow DAG {dag_id[:60]}..., {len(dag_id)} characters long "
                f"(Airflow allows {MAX_DAG_ID_LENGTH}); shorten the plugin or operator name."
            )
        elif dag_id in taken:
            problems[uri] = (
                f"operator {uri} and operator {taken[dag_id]} would both be the Airflow DAG {dag_id}; "
                "rename the plugin or the operator."
            )
        else:
            taken[dag_id] = uri
    return problems


def _clean(part: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", part.lstrip("@")).strip("_")


def dispatch_run_id(operation_id: str, attempt: int) -> str:
    """The operator DAG run started for one dispatch of an operation: the same operation and
    attempt always give the same run id, so a repeated dispatch is refused by Airflow."""
    return f"fiftyops__{operation_id}__attempt{attempt + 1}"


def operation_run(operation_id: str, operator_uri: str, attempt: int) -> dict:
    """The operator DAG run one dispatch of an operation starts, as ``TriggerDagRunOperator``
    kwargs: its DAG, its run id and the conf naming the operation."""
    return {
        "trigger_dag_id": operator_dag_id(operator_uri),
        "trigger_run_id": dispatch_run_id(operation_id, attempt),
        "conf": {"operation_id": operation_id},
    }
