"""One dispatch round: what a dispatcher (the Airflow sensor, the local launcher) does before it
hands operations to runs.

Reap runs whose executor died, admit scheduled operations within the execution quota, then pick
up the oldest queued operations. An operation whose operator has no runner (not installed,
disabled, or not delegation-capable) is failed with a message saying so instead of waiting
forever.
"""

from __future__ import annotations

import logging
from collections.abc import Container

from fiftyops_provider.execution.reaper import reap_stale_operations
from fiftyops_provider.execution.sources import OperatorSource
from fiftyops_provider.plugins.registry import PluginRegistry
from fiftyops_provider.store import DelegatedOperationDocument, DelegatedOperationService, ExecutionResult
from fiftyops_provider.store.states import ExecutionRunState as S

logger = logging.getLogger(__name__)


def runnable_operators(registry: PluginRegistry) -> set[str]:
    """The operator URIs a dispatcher may hand to runs: enabled and delegation-capable."""
    return {info.uri for info in registry.list_operators(enabled_only=True) if info.delegation_capable}


def dispatch_round(
    service: DelegatedOperationService,
    picker: str,
    *,
    limit: int,
    quota: int | None,
    runnable: Container[str] | None = None,
    source: OperatorSource | str | None = None,
    stale_after: float | None = None,
    reap: bool = True,
    operator: str | None = None,
    delegation_target: str | None = None,
    dataset_name: str | None = None,
) -> list[DelegatedOperationDocument]:
    """Picked-up queued operations, oldest first, each now dispatched to ``picker``.

    ``runnable``: the operator URIs the caller can run (None: any). ``reap=False`` skips the
    stale-run check (a caller that runs rounds often reaps on its own, slower schedule).
    """
    if reap:
        reap_stale_operations(service, source, stale_after=stale_after)
    service.admit_scheduled_operations(quota, delegation_target)
    picked = service.pick_up_queued_operations(
        picker, limit, operator=operator, delegation_target=delegation_target, dataset_name=dataset_name
    )
    if runnable is None:
        return picked
    ready = []
    for doc in picked:
        if doc.operator in runnable:
            ready.append(doc)
            continue
        message = (
            f"No runner for operator {doc.operator}: it is not installed, disabled, or does not allow "
            "delegated execution. Install or enable it, then rerun this operation."
        )
        logger.warning("Operation %s: %s", doc.id, message)
        service.set_failed(doc.id, ExecutionResult(error=message, error_message=message), required_state=S.QUEUED)
    return ready
