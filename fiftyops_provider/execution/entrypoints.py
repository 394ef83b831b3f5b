"""FiftyOne's execution entry points, as ``DelegatedOperationService`` methods delegate to them.

Differences from FiftyOne, on purpose: every run is monitored in a child process (``monitor`` only
lets ``check_interval_seconds`` shorten the heartbeat), and ``execute_queued_operations`` takes the
oldest queued operation first (FIFO), not the newest.
"""

from __future__ import annotations

from typing import Any

from bson import ObjectId

from fiftyops_provider.execution.dispatch_round import deployment_routing
from fiftyops_provider.execution.executor import (
    DEFAULT_HEARTBEAT_INTERVAL,
    Executor,
    OutcomeState,
    echo_to_stdout,
)
from fiftyops_provider.execution.launcher import served_targets
from fiftyops_provider.store import DelegatedOperationDocument, DelegatedOperationService, ExecutionResult


def make_executor(
    service: DelegatedOperationService,
    log: bool = False,
    monitor: bool = False,
    check_interval_seconds: float = 60,
    **executor_options: Any,
) -> Executor:
    """An ``Executor`` for FiftyOne-style arguments: ``log`` echoes the operator's output to
    stdout; ``monitor`` + ``check_interval_seconds`` below the heartbeat interval watch more often."""
    options = dict(executor_options)
    if log:
        options.setdefault("echo", echo_to_stdout)
    if monitor:
        heartbeat = options.get("heartbeat_interval", DEFAULT_HEARTBEAT_INTERVAL)
        options["heartbeat_interval"] = min(heartbeat, check_interval_seconds)
    return Executor(service, **options)


def execute_operation(
    service: DelegatedOperationService,
    operation: DelegatedOperationDocument | ObjectId | str,
    log: bool = False,
    run_link: str | None = None,
    log_path: str | None = None,
    monitor: bool = False,
    check_interval_seconds: float = 60,
    **executor_options: Any,
) -> ExecutionResult | None:
    """Run one queued operation; None if it was not queued (or another executor claimed it)."""
    executor = make_executor(service, log, monitor, check_interval_seconds, **executor_options)
    outcome = executor.run(operation, run_link=run_link, log_path=log_path)
    return None if outcome.state is OutcomeState.NOT_CLAIMED else outcome.to_execution_result()


def execute_queued_operations(
    service: DelegatedOperationService,
    operator: str | None = None,
    delegation_target: str | None = None,
    dataset_name: str | None = None,
    limit: int | None = None,
    log: bool = False,
    monitor: bool = False,
    check_interval_seconds: float = 60,
    **executor_options: Any,
) -> list[ExecutionResult]:
    """Run queued operations one after the other, oldest first, until none is left or ``limit``
    have run. Each is picked up (``dispatch``) before it is claimed, so concurrent callers and
    dispatchers never hand the same operation to two runs. Only this deployment's operations
    (``FIFTYOPS_DELEGATION_TARGETS``, ``store.routing``) are taken."""
    executor = make_executor(service, log, monitor, check_interval_seconds, **executor_options)
    routing = deployment_routing(executor.source, served_targets(delegation_target))
    results: list[ExecutionResult] = []
    while limit is None or len(results) < limit:
        picked = service.pick_up_queued_operations(
            executor.executor_id,
            1,
            operator=operator,
            delegation_target=delegation_target,
            dataset_name=dataset_name,
            routing=routing,
        )
        if not picked:
            break
        outcome = executor.run(picked[0])
        if outcome.state is not OutcomeState.NOT_CLAIMED:
            results.append(outcome.to_execution_result())
    return results
