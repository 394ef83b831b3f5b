"""Builds the FiftyOps DAGs from the plugin registry (called by ``dags/fiftyops_dags.py``).

* ``fiftyops__dispatcher``: a continuous DAG that hands each queued operation to a run of its
  operator's DAG (``{"operation_id": ...}`` as conf). How, is ``[fiftyops] dispatch_mode``:

  - ``direct`` (default): one deferred task, ``DispatchOperationsOperator``; its trigger watches a
    MongoDB change stream and starts the runs through the REST API (connection
    ``fiftyops_airflow_api``). An operation costs one task start, like any REST-triggered run.
  - ``sensor``: ``QueuedOperationSensor`` (deferred on the change stream) picks operations up and
    a mapped ``TriggerDagRunOperator`` starts the runs. Needs no API access; costs two more task
    starts per pick-up, and shows each pick-up as a run in the UI.
* ``fiftyops__dispatcher_events`` (``dispatch_mode = asset``): the sensor's two tasks, scheduled
  on an asset whose ``AssetWatcher`` (``QueuedOperationEventTrigger``) fires when work appears.
* ``fiftyops__<plugin>__<operator>``: one DAG per enabled, delegation-capable operator. Its task
  runs one operation. The operator's config maps to Airflow: ``execution_timeout``, retries from
  ``on_reset``/``max_attempts``, the ``fiftyops`` pool (its slots are the execution quota), and a
  params form from ``resolve_input`` so an operation can be launched from the "Trigger" form.

The operator list is read from MongoDB at parse time (metadata only, no plugin code), so
installing, disabling or uninstalling a plugin changes the DAGs on the next parse. If MongoDB
cannot be reached, the last list read is used, so a database outage never removes the DAGs of
operations that are running.

One bad operator never takes the other DAGs down: an operator whose DAG id is too long or taken
(installed before the install-time check existed), or whose DAG cannot be built, is logged and
skipped, and the file gets one more top-level object, ``RefusedOperators``, whose validation
fails with a message naming each skipped operator: Airflow shows it as the DAG file's import
error, and bags every other DAG of the file.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, MutableMapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Asset, AssetWatcher, Param, get_parsing_context

from fiftyops_provider.airflow_compat import conf
from fiftyops_provider.config import load_settings
from fiftyops_provider.dag_factory.naming import (
    DISPATCH_TASK_ID,
    DISPATCHER_DAG_ID,
    EVENT_DISPATCHER_DAG_ID,
    OPERATOR_TASK_ID,
    POOL_NAME,
    QUEUE_ASSET_NAME,
    QUEUE_ASSET_URI,
    dag_id_conflicts,
    operator_dag_id,
)
from fiftyops_provider.dag_factory.run_params import RUN_PARAMS
from fiftyops_provider.dag_factory.settings import admission_limit, delegation_targets, dispatch_mode
from fiftyops_provider.execution.policy import ResetPolicy
from fiftyops_provider.hooks.fiftyops import FiftyOpsHook, parsing_hook
from fiftyops_provider.operators.execute_operation import ExecuteDelegatedOperationOperator, mark_operation_failed
from fiftyops_provider.plugins.registry import OperatorInfo

logger = logging.getLogger(__name__)

START_DATE = datetime(2024, 1, 1, tzinfo=UTC)
TERMINATION_GRACE = 10.0
# Airflow's execution_timeout is a backstop behind the executor's own timeout, which applies the
# operator's on_reset policy; it fires only if the executor itself hangs.
AIRFLOW_TIMEOUT_MARGIN = 60.0
REFUSED_DAG_ID = "fiftyops__refused_operators"
RETRY_DELAY = timedelta(seconds=5)
SENSOR_TIMEOUT = timedelta(hours=1)


def operator_params(info: OperatorInfo) -> dict[str, Param]:
    """The Trigger form: the operator's inputs (all optional here: inputs are validated when the
    operation is queued, and a dispatched run carries only ``operation_id``)."""
    params = dict(RUN_PARAMS)
    for name, schema in (info.inputs_schema or {}).get("properties", {}).items():
        kind = schema.get("type", "string")
        extra = {k: schema[k] for k in ("minimum", "maximum") if k in schema}
        if "enum" in schema:
            extra["enum"] = [None, *schema["enum"]]
        params[name] = Param(
            schema.get("default"),
            type=["null", kind],
            title=schema.get("title", name),
            description=schema.get("description"),
            **extra,
        )
    return params


def _doc_md(info: OperatorInfo) -> str:
    lines = [
        f"### {info.label}",
        "",
        info.description or "",
        "",
        f"Operator: `{info.uri}` (plugin {info.plugin_name} {info.plugin_version or ''})",
    ]
    cfg = info.config
    lines.append(
        f"Timeout {cfg.get('execution_timeout')} s, on_reset `{cfg.get('on_reset')}`, "
        f"max attempts {cfg.get('max_attempts')}."
    )
    return "\n".join(lines)


def placement_arguments(info: OperatorInfo) -> dict[str, Any]:
    """The task's ``queue``, ``pool``, ``priority_weight`` and ``executor_config``: the operator's
    placement (config, then admin override); the ``[fiftyops] pool`` and Airflow's defaults for
    what it leaves unset."""
    arguments: dict[str, Any] = {"pool": conf.get("fiftyops", "pool", fallback=POOL_NAME)}
    arguments.update(info.placement)
    return arguments


def build_operator_dag(info: OperatorInfo, conn_id: str = FiftyOpsHook.default_conn_name) -> DAG:
    cfg = info.config
    retries = ResetPolicy(cfg.get("on_reset", "failed"), cfg.get("max_attempts", 1)).reruns
    with DAG(
        dag_id=operator_dag_id(info.uri),
        dag_display_name=info.label,
        description=(info.description or info.label)[:200],
        doc_md=_doc_md(info),
        tags=["fiftyops", info.plugin_name],
        schedule=None,
        start_date=START_DATE,
        catchup=False,
        params=operator_params(info),
        is_paused_upon_creation=False,
        auto_register=False,  # only register_dags bags it, so a DAG whose task fails to build is never found
    ) as dag:
        ExecuteDelegatedOperationOperator(
            task_id=OPERATOR_TASK_ID,
            task_display_name=info.label,
            operation_id="{{ params.operation_id or '' }}",
            rerun_of="{{ params.rerun_of or '' }}",
            operator_uri=info.uri,
            fiftyops_conn_id=conn_id,
            **placement_arguments(info),
            execution_timeout=timedelta(
                seconds=cfg.get("execution_timeout", 3600) + TERMINATION_GRACE + AIRFLOW_TIMEOUT_MARGIN
            ),
            termination_grace=TERMINATION_GRACE,
            heartbeat_interval=conf.getfloat("fiftyops", "heartbeat_interval", fallback=5.0),
            retries=retries,
            retry_delay=RETRY_DELAY,
            on_failure_callback=mark_operation_failed,
        )
    return dag


# The dispatchers' classes are imported in their builders: TriggerDagRunOperator pulls in Airflow's
# ORM (a quarter of a second), the others the REST client and the dispatch machinery, none of
# which an operator DAG's task start (parsing only its own DAG) needs.


def _start_operation_runs(picked: Any) -> None:
    """A mapped ``TriggerDagRunOperator``: one run per operation a ``QueuedOperationSensor`` picked."""
    from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator

    TriggerDagRunOperator.partial(
        task_id="start_operation",
        logical_date=None,
        skip_when_already_exists=True,
        wait_for_completion=False,
    ).expand_kwargs(picked.output)


def _dispatcher(dag_id: str, display_name: str, schedule: Any) -> DAG:
    """One dispatcher run at a time: runs pick up work atomically, so more would only compete."""
    return DAG(
        dag_id=dag_id,
        dag_display_name=display_name,
        description="Picks up queued delegated operations and starts one operator DAG run per operation.",
        tags=["fiftyops"],
        schedule=schedule,
        max_active_runs=1,
        start_date=START_DATE,
        catchup=False,
        is_paused_upon_creation=False,
    )


def build_direct_dispatcher_dag(conn_id: str = FiftyOpsHook.default_conn_name) -> DAG:
    from fiftyops_provider.operators.dispatch_operations import DispatchOperationsOperator

    with _dispatcher(DISPATCHER_DAG_ID, "FiftyOps dispatcher", "@continuous") as dag:
        DispatchOperationsOperator(task_id=DISPATCH_TASK_ID, fiftyops_conn_id=conn_id)
    return dag


def build_sensor_dispatcher_dag(conn_id: str = FiftyOpsHook.default_conn_name) -> DAG:
    from fiftyops_provider.sensors.queued_operation import QueuedOperationSensor

    with _dispatcher(DISPATCHER_DAG_ID, "FiftyOps dispatcher", "@continuous") as dag:
        _start_operation_runs(
            QueuedOperationSensor(
                task_id="wait_for_operations",
                fiftyops_conn_id=conn_id,
                timeout=SENSOR_TIMEOUT.total_seconds(),
                soft_fail=True,
                deferrable=True,
            )
        )
    return dag


def build_event_dispatcher_dag(conn_id: str = FiftyOpsHook.default_conn_name) -> DAG:
    from fiftyops_provider.sensors.queued_operation import QueuedOperationSensor
    from fiftyops_provider.triggers.queued_operation import QueuedOperationEventTrigger

    queue = Asset(
        name=QUEUE_ASSET_NAME,
        uri=QUEUE_ASSET_URI,
        watchers=[
            AssetWatcher(
                name=f"{QUEUE_ASSET_NAME}_watcher",
                trigger=QueuedOperationEventTrigger(
                    conn_id=conn_id, quota=admission_limit(), delegation_targets=delegation_targets()
                ),
            )
        ],
    )
    with _dispatcher(EVENT_DISPATCHER_DAG_ID, "FiftyOps dispatcher (event-driven)", [queue]) as dag:
        # One poke: the watcher only fires when there is work; nothing to take (another run took
        # it) skips the run.
        _start_operation_runs(
            QueuedOperationSensor(
                task_id="pick_up_operations",
                fiftyops_conn_id=conn_id,
                timeout=0,
                soft_fail=True,
                deferrable=False,
                mode="poke",
            )
        )
    return dag


def build_dispatcher(conn_id: str = FiftyOpsHook.default_conn_name) -> DAG:
    """The dispatcher of the configured ``[fiftyops] dispatch_mode``."""
    builders = {
        "direct": build_direct_dispatcher_dag,
        "sensor": build_sensor_dispatcher_dag,
        "asset": build_event_dispatcher_dag,
    }
    return builders[dispatch_mode()](conn_id)


def _cache_file() -> Path:
    return load_settings().home / "dag_factory_operators.json"


def load_operator_infos(conn_id: str = FiftyOpsHook.default_conn_name) -> list[OperatorInfo]:
    """Enabled, delegation-capable operators; the last known list if MongoDB is unreachable.

    Every parse that reads the list keeps the cache current, a task start's too (a worker host
    parses only there, and needs the cache to start tasks through a database outage); the file
    is rewritten only when the list changed, so an ordinary task start only reads it."""
    cache = _cache_file()
    try:
        registry = parsing_hook(conn_id).get_registry()
        listed = registry.list_operators() + registry.fiftyone_operators()  # an installed plugin wins
        infos = [i for i in listed if i.enabled and i.delegation_capable]
    except Exception:
        logger.exception("Cannot read the plugin registry; using the operator list cached in %s", cache)
        try:
            return [OperatorInfo(**item) for item in json.loads(cache.read_text())]
        except (OSError, ValueError, TypeError):
            return []
    # vars(), not dataclasses.asdict: an OperatorInfo's fields are plain values, and asdict's deep
    # copy of every schema cost as much as the registry read.
    listing = json.dumps([vars(i) for i in infos], default=str)
    try:
        if not cache.is_file() or cache.read_text() != listing:
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(listing)
    except OSError:
        logger.warning("Cannot write the operator cache %s", cache, exc_info=True)
    return infos


class RefusedOperators(DAG):
    """Not a DAG to run: the report of the operators the factory skipped. Airflow validates each
    DAG of a file before bagging it; this one's validation fails with the report, which Airflow
    records as the file's import error (shown in the UI) while the other DAGs are bagged."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(dag_id=REFUSED_DAG_ID, schedule=None, start_date=START_DATE)
        self.reasons = reasons

    def validate(self) -> None:
        raise ValueError(
            f"FiftyOps skipped {len(self.reasons)} plugin operator(s) it cannot make a DAG of (the other DAGs are "
            "fine); fix or uninstall each plugin (fiftyops plugins uninstall NAME): " + " | ".join(self.reasons)
        )


def build_operator_dags(infos: Iterable[OperatorInfo], conn_id: str, wanted: str | None) -> tuple[list[DAG], list[str]]:
    """(the operator DAGs, why each skipped operator was skipped); ``wanted``: build only that DAG."""
    infos = sorted(infos, key=lambda i: i.uri)
    conflicts = dag_id_conflicts([info.uri for info in infos], [])
    dags, refused = [], []
    for info in infos:
        if info.uri in conflicts:
            refused.append(conflicts[info.uri])
            logger.error("Skipping the DAG of %s: %s", info.uri, conflicts[info.uri])
            continue
        if wanted is not None and operator_dag_id(info.uri) != wanted:
            continue
        try:
            dags.append(build_operator_dag(info, conn_id))
        except Exception as exc:
            refused.append(f"operator {info.uri} of plugin {info.plugin_name}: {type(exc).__name__}: {exc}")
            logger.exception("Skipping the DAG of %s: it cannot be built", info.uri)
    return dags, refused


def register_dags(
    namespace: MutableMapping[str, Any],
    conn_id: str = FiftyOpsHook.default_conn_name,
    operators: Iterable[OperatorInfo] | None = None,
) -> list[str]:
    """Build the FiftyOps DAGs into ``namespace`` (a DAG file's ``globals()``); returns the ids.

    When a task starts, Airflow parses the file only to find that task's DAG and says which one
    (``get_parsing_context().dag_id``, Airflow's advice for dynamic DAG files). Then only that DAG
    is built: every operation costs several task starts, and none should build every other DAG.
    Operators that cannot have a DAG are skipped and reported as the file's import error
    (``RefusedOperators``) on a full parse.
    """
    wanted = get_parsing_context().dag_id
    dags = []
    if wanted is None or wanted in (DISPATCHER_DAG_ID, EVENT_DISPATCHER_DAG_ID):
        dags.append(build_dispatcher(conn_id))
    if wanted not in (DISPATCHER_DAG_ID, EVENT_DISPATCHER_DAG_ID):
        infos = operators if operators is not None else load_operator_infos(conn_id)
        operator_dags, refused = build_operator_dags(infos, conn_id, wanted)
        dags += operator_dags
        if refused and wanted is None:
            namespace[REFUSED_DAG_ID] = RefusedOperators(refused)
    for dag in dags:
        namespace[dag.dag_id] = dag
    return [dag.dag_id for dag in dags]
