"""``DispatchOperationsOperator``: the dispatcher task of ``dispatch_mode = direct``.

It defers at once to ``OperationDispatchTrigger``, which starts one operator DAG run per queued
operation from the triggerer for ``run_for`` seconds, then resumes here to report how many it
started. It holds no worker slot while it dispatches. The trigger gets the connection ids, never
their credentials (trigger kwargs are stored in Airflow's metadata database), and resolves them in
the triggerer. The API connection is checked here first, so a missing one fails this task with
the message saying how to set it up.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator, Context

from fiftyops_provider.airflow_compat import AirflowException
from fiftyops_provider.dag_factory.settings import admission_limit, delegation_targets, reaper_timing
from fiftyops_provider.execution.claims import airflow_identity
from fiftyops_provider.hooks.airflow_api import AirflowAPIHook
from fiftyops_provider.hooks.fiftyops import FiftyOpsHook
from fiftyops_provider.triggers.operation_dispatch import (
    MAX_OPERATIONS_PER_ROUND,
    RUN_FOR_SECONDS,
    OperationDispatchTrigger,
)


class DispatchOperationsOperator(BaseOperator):
    """Start an operator DAG run for each queued operation, for ``run_for`` seconds.

    :param quota: most queued + running operations (default: ``dispatch_settings.admission_limit``).
    :param max_operations: most operations picked up per dispatch round.
    :param run_for: seconds before the task completes (a continuous DAG then starts it again).
    """

    ui_color = "#e8f0ff"

    def __init__(
        self,
        *,
        fiftyops_conn_id: str = FiftyOpsHook.default_conn_name,
        airflow_api_conn_id: str = AirflowAPIHook.default_conn_name,
        quota: int | None = None,
        max_operations: int = MAX_OPERATIONS_PER_ROUND,
        run_for: float = RUN_FOR_SECONDS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.fiftyops_conn_id = fiftyops_conn_id
        self.airflow_api_conn_id = airflow_api_conn_id
        self.quota = quota
        self.max_operations = max_operations
        self.run_for = run_for

    def execute(self, context: Context) -> None:
        AirflowAPIHook(self.airflow_api_conn_id).get_credentials()
        ti = context["ti"]
        stale_after, reap_interval = reaper_timing()
        self.defer(
            trigger=OperationDispatchTrigger(
                conn_id=self.fiftyops_conn_id,
                quota=self.quota if self.quota is not None else admission_limit(),
                airflow_api_conn_id=self.airflow_api_conn_id,
                picker=airflow_identity(ti.dag_id, ti.run_id),
                max_operations=self.max_operations,
                run_for=self.run_for,
                stale_after=stale_after,
                reap_interval=reap_interval,
                delegation_targets=delegation_targets(),
            ),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> int:
        if not event or event.get("status") != "done":
            raise AirflowException(f"The dispatcher trigger ended unexpectedly: {event}")
        self.log.info("Started %d operation run(s)", event["started"])
        return event["started"]
