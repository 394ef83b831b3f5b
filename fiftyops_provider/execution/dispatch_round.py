"""One dispatch round: what a dispatcher (the Airflow trigger or sensor, the local launcher) does
before it hands operations to runs.

Reap runs whose executor died, admit scheduled operations within the execution quota, then pick
up the oldest queued operations of this deployment (``store.routing``: sent to one of its
delegation targets, or sent nowhere in particular with an operator it can run). An operation sent
here whose operator has no runner (not installed, disabled, or not delegation-capable) is failed
with a message saying so instead of waiting forever; anyone else's operation is never touched.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from fiftyops_provider.execution.reaper import reap_stale_operations
from fiftyops_provider.execution.sources import OperatorSource, RunnableCatalog
from fiftyops_provider.store import DelegatedOperationDocument, DelegatedOperationService, ExecutionResult
from fiftyops_provider.store.routing import Routing
from fiftyops_provider.store.states import ExecutionRunState as S

logger = logging.getLogger(__name__)


def deployment_routing(source: object, delegation_targets: str | Iterable[str] | None) -> Routing:
    """The routing of a deployment serving ``delegation_targets`` with the operators ``source``
    can run, read now (call it again to see plugins installed or enabled since). A source that
    cannot list its operators (no ``runnable_operators``) is taken to run any operator.

    :param source: an ``OperatorSource`` (the registry's: ``sources.RegistrySource``).
    :param delegation_targets: the targets served (None: the default, ``store.routing``).
    """
    runnable = source.runnable_operators() if isinstance(source, RunnableCatalog) else None
    return Routing.of(delegation_targets, runnable)


def dispatch_round(
    service: DelegatedOperationService,
    picker: str,
    *,
    limit: int,
    quota: int | None,
    routing: Routing | None = None,
    source: OperatorSource | str | None = None,
    stale_after: float | None = None,
    reap: bool = True,
    operator: str | None = None,
    delegation_target: str | None = None,
    dataset_name: str | None = None,
) -> list[DelegatedOperationDocument]:
    """Picked-up queued operations, oldest first, each now dispatched to ``picker``.

    ``routing``: the operations this deployment takes and the operators it can run (None: any
    operation, any operator). ``reap=False`` skips the stale-run check (a caller that runs rounds
    often reaps on its own, slower schedule).
    """
    if reap:
        reap_stale_operations(service, source, stale_after=stale_after)
    service.admit_scheduled_operations(quota, delegation_target, routing)
    picked = service.pick_up_queued_operations(
        picker,
        limit,
        operator=operator,
        delegation_target=delegation_target,
        dataset_name=dataset_name,
        routing=routing,
    )
    if routing is None:
        return picked
    ready = []
    for doc in picked:
        if routing.can_run(doc.operator):
            ready.append(doc)
            continue
        message = (
            f"No runner for operator {doc.operator}: it is not installed, disabled, or does not allow "
            f"delegated execution, and the operation was sent to this deployment ({doc.delegation_target}). "
            "Install or enable it, then rerun this operation."
        )
        logger.warning("Operation %s: %s", doc.id, message)
        service.set_failed(doc.id, ExecutionResult(error=message, error_message=message), required_state=S.QUEUED)
    return ready
