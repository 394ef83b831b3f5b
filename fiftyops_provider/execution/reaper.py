"""Finding runs whose executor is gone (SIGKILLed, machine lost, cut off from the database).

A live executor pings ``heartbeat_at`` every ``heartbeat_interval``; a running operation whose
heartbeat is older than ``stale_after`` (default 3 x the default interval) gets its operator's
``on_reset`` policy, exactly as a timeout would, so nothing stays "running" forever. Run it
periodically (the local launcher does; an Airflow deployment runs it from a small DAG).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from fiftyops_provider.execution.executor import DEFAULT_HEARTBEAT_INTERVAL
from fiftyops_provider.execution.policy import ResetPolicy, apply_reset_policy
from fiftyops_provider.execution.sources import DEFAULT_OPERATOR_SOURCE, OperatorSource, build_source
from fiftyops_provider.store import DelegatedOperationService, ExecutionRunState
from fiftyops_provider.store.documents import utcnow

logger = logging.getLogger(__name__)

STALE_FACTOR = 3


@dataclass
class ReapedOperation:
    operation_id: str
    state: ExecutionRunState  # queued (rerun) or failed
    reason: str


def reap_stale_operations(
    service: DelegatedOperationService | None = None,
    source: OperatorSource | str | None = None,
    *,
    stale_after: float | None = None,
    heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL,
    limit: int = 100,
) -> list[ReapedOperation]:
    """Apply the on_reset policy to running operations without a recent heartbeat.

    ``source`` tells each operator's policy (an ``OperatorSource`` or its ``"module:factory"``
    path; default: the plugin registry). An operator that cannot be loaded gets "failed".
    """
    service = service or DelegatedOperationService()
    bound = stale_after if stale_after is not None else STALE_FACTOR * heartbeat_interval
    stale = service.get_stale_operations(utcnow() - timedelta(seconds=bound), limit)
    if not stale:
        return []
    if source is None or isinstance(source, str):
        source = _build(service, source or DEFAULT_OPERATOR_SOURCE)
    reaped = []
    for doc in stale:
        reason = (
            f"No heartbeat from its executor since {doc.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC (over {bound:g}s): "
            "the worker died or lost the database"
        )
        # Only if its executor has not pinged since we looked: after a MongoDB primary change,
        # pings held up by the election land at about the time this round runs.
        policy = _policy(source, doc.operator)
        updated = apply_reset_policy(service, doc, doc.claim_token, policy, reason, heartbeat_at=doc.heartbeat_at)
        if updated is not None:
            reaped.append(ReapedOperation(str(doc.id), updated.run_state, reason))
    return reaped


def _build(service: DelegatedOperationService, spec: str) -> OperatorSource | None:
    try:
        return build_source(spec, service.database)
    except Exception:
        logger.warning("Operator source %s is unavailable; stale runs get on_reset='failed'", spec, exc_info=True)
        return None


def _policy(source: OperatorSource | None, uri: str) -> ResetPolicy:
    if source is None:
        return ResetPolicy()
    try:
        return ResetPolicy.of(source.load_operator(uri))
    except Exception as exc:
        logger.warning("Cannot load %s (%s); its stale run gets on_reset='failed'", uri, exc)
        return ResetPolicy()
