"""``QueuedOperationSensor``: waits until delegated operations are queued, picks them up.

Each poke runs a dispatch round (reap dead runs, admit scheduled operations within the execution
quota, pick up the oldest queued ones) and succeeds with the picked operations as its XCom: one
``TriggerDagRunOperator`` kwargs dict per operation, ready for ``expand_kwargs``. Poke and
reschedule modes poll; the deferrable mode (default) waits in the triggerer on a MongoDB change
stream (``QueuedOperationTrigger``) and costs no worker slot and almost no database load while
nothing is queued.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator, Context, PokeReturnValue

from fiftyops_provider.airflow_compat import AirflowException, conf
from fiftyops_provider.dag_factory.naming import operation_run
from fiftyops_provider.dag_factory.settings import admission_limit, delegation_targets
from fiftyops_provider.execution.claims import airflow_identity
from fiftyops_provider.execution.dispatch_round import deployment_routing, dispatch_round
from fiftyops_provider.execution.sources import RegistrySource
from fiftyops_provider.hooks.fiftyops import FiftyOpsHook
from fiftyops_provider.triggers.queued_operation import QueuedOperationTrigger


class QueuedOperationSensor(BaseSensorOperator):
    """Succeeds with ``[{"trigger_dag_id", "trigger_run_id", "conf": {"operation_id"}}, ...]``.

    :param max_operations: most operations picked up per success (default: the execution quota).
    :param quota: most queued + running operations (default: the pool's slots plus
        ``[fiftyops] dispatch_ahead``, see ``dispatch_settings``).
    """

    template_fields = ("operator", "delegation_target", "dataset_name")

    def __init__(
        self,
        *,
        operator: str | None = None,
        delegation_target: str | None = None,
        dataset_name: str | None = None,
        max_operations: int | None = None,
        quota: int | None = None,
        fiftyops_conn_id: str = FiftyOpsHook.default_conn_name,
        deferrable: bool = True,
        poll_interval: float | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("poke_interval", poll_interval or conf.getfloat("fiftyops", "poll_interval", fallback=5.0))
        super().__init__(**kwargs)
        self.operator = operator
        self.delegation_target = delegation_target
        self.dataset_name = dataset_name
        self.quota = quota if quota is not None else admission_limit()
        self.max_operations = max_operations or self.quota
        self.fiftyops_conn_id = fiftyops_conn_id
        self.deferrable = deferrable

    def poke(self, context: Context) -> PokeReturnValue:
        hook = FiftyOpsHook(self.fiftyops_conn_id)
        routing = deployment_routing(RegistrySource(hook.get_database()), delegation_targets())
        ti = context["ti"]
        picked = dispatch_round(
            hook.get_service(),
            airflow_identity(ti.dag_id, ti.run_id),
            limit=self.max_operations,
            quota=self.quota,
            routing=routing,
            operator=self.operator,
            delegation_target=self.delegation_target,
            dataset_name=self.dataset_name,
        )
        runs = [operation_run(str(doc.id), doc.operator, doc.attempt) for doc in picked]
        if runs:
            self.log.info("Picked up %d operation(s): %s", len(runs), [r["conf"]["operation_id"] for r in runs])
        return PokeReturnValue(is_done=bool(runs), xcom_value=runs)

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        return self._poke_or_defer(context)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Resumed by the trigger: something is queued or scheduled now (or the watch failed)."""
        if event and event.get("status") == "error":
            raise AirflowException(f"Watching the operation store failed: {event.get('message')}")
        return self._poke_or_defer(context)

    def _poke_or_defer(self, context: Context) -> Any:
        result = self.poke(context)
        if result.is_done:
            return result.xcom_value
        self.defer(
            trigger=QueuedOperationTrigger(
                conn_id=self.fiftyops_conn_id,
                operator=self.operator,
                delegation_target=self.delegation_target,
                dataset_name=self.dataset_name,
                quota=self.quota,
                poll_interval=self.poke_interval,
                delegation_targets=delegation_targets(),
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )
