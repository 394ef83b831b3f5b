"""What happens to a run that ended without a result: it timed out, or its worker died.

One rule for the executor (timeout, child killed) and the reaper (stale heartbeat): the operator's
``on_reset`` decides. "rerun" puts the operation back in the queue while attempts remain
(``attempt < max_attempts``); otherwise, and for "failed", it is marked failed with the reason.
Both writes are compare-and-set on running + the claim token, so a run that another writer
already finished is left alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from fiftyops_provider.plugins.operator import Operator
from fiftyops_provider.store import DelegatedOperationDocument, DelegatedOperationService, ExecutionResult
from fiftyops_provider.store.states import ExecutionRunState

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResetPolicy:
    """The attempt budget of an operator, decided here only: the executor and the reaper ask
    ``allows_rerun``, the DAG factory gives Airflow ``reruns`` as the task's retries.

    :param on_reset: "rerun" or "failed" (the operator's config).
    :param max_attempts: runs "rerun" allows in all, the first included.
    """

    on_reset: str = "failed"
    max_attempts: int = 1

    @classmethod
    def of(cls, operator: Operator) -> ResetPolicy:
        return cls(operator.config.on_reset, operator.config.max_attempts)

    @property
    def reruns(self) -> int:
        """How many more runs may follow the first one."""
        return self.max_attempts - 1 if self.on_reset == "rerun" else 0

    def allows_rerun(self, attempt: int) -> bool:
        """Whether a run that ended without a result in ``attempt`` (1-based) may run again.

        :param attempt: the attempt that just ended.
        """
        return attempt <= self.reruns


def apply_reset_policy(
    service: DelegatedOperationService,
    doc: DelegatedOperationDocument,
    claim_token: str | None,
    policy: ResetPolicy,
    reason: str,
    keep_dispatch: bool = False,
    heartbeat_at: datetime | None = None,
) -> DelegatedOperationDocument | None:
    """Requeue or fail ``doc`` (as claimed with ``claim_token``); None if the claim was lost.

    ``keep_dispatch``: the requeued operation stays with the run that had it (an orchestrator
    that retries the same task, like Airflow); otherwise any dispatcher may pick it up again.
    ``heartbeat_at``: only if no heartbeat landed after this one (the reaper's condition)."""
    if policy.allows_rerun(doc.attempt):
        logger.warning(
            "Operation %s: %s; requeued for attempt %d of %d", doc.id, reason, doc.attempt + 1, policy.max_attempts
        )
        return service.requeue(doc.id, claim_token=claim_token, keep_dispatch=keep_dispatch, heartbeat_at=heartbeat_at)
    limit = f" of {policy.max_attempts}" if policy.on_reset == "rerun" else ""
    message = f"{reason} (attempt {doc.attempt}{limit}; on_reset={policy.on_reset})"
    logger.warning("Operation %s failed: %s", doc.id, message)
    return service.set_failed(
        doc.id,
        ExecutionResult(error=message, error_message=message),
        required_state=ExecutionRunState.RUNNING,
        claim_token=claim_token,
        update_pipeline=doc.parent_id,
        heartbeat_at=heartbeat_at,
    )
