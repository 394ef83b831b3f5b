"""The run-state machine of a delegated operation, defined once.

    scheduled --admit--> queued --claim--> running --> completed
        |                  |  ^               |   \\--> failed
        |                  |  \\--requeue------/        (timeout or stale heartbeat with on_reset="rerun")
        \\------------------+-----> failed  (manual fail / terminate before it ran)

Terminal states (completed, failed) are final: a rerun is a new document.
"""

from __future__ import annotations

from enum import Enum

from fiftyops_provider.store.errors import IllegalTransition, InvalidQuery


class ExecutionRunState(str, Enum):
    """Lower-case values, as stored in FiftyOne's ``delegated_ops`` collection."""

    SCHEDULED = "scheduled"
    QUEUED = "queued"
    RUNNING = "running"
    PROCESSING = "processing"  # defined by FiftyOne, never written by either system
    COMPLETED = "completed"
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value


S = ExecutionRunState
TERMINAL_STATES = frozenset({S.COMPLETED, S.FAILED})
ACTIVE_STATES = frozenset({S.QUEUED, S.RUNNING})
# States with a place in a queue (admission for scheduled, pick-up for queued).
WAITING_STATES = frozenset({S.SCHEDULED, S.QUEUED})

# target state -> the states it may be entered from
TRANSITIONS: dict[ExecutionRunState, frozenset[ExecutionRunState]] = {
    S.SCHEDULED: frozenset({S.QUEUED}),
    S.QUEUED: frozenset({S.SCHEDULED, S.RUNNING}),
    S.RUNNING: frozenset({S.QUEUED}),
    S.COMPLETED: frozenset({S.RUNNING}),
    S.FAILED: frozenset({S.SCHEDULED, S.QUEUED, S.RUNNING}),
}


def parse_state(value: object) -> ExecutionRunState:
    """Accept an enum member or its (any-case) string; anything else is a clear error."""
    if isinstance(value, ExecutionRunState):
        return value
    if isinstance(value, str):
        try:
            return ExecutionRunState(value.lower())
        except ValueError:
            pass
    allowed = ", ".join(s.value for s in ExecutionRunState if s is not S.PROCESSING)
    raise InvalidQuery(f"Unknown run state {value!r}; use one of: {allowed}.")


def sources_for(target: ExecutionRunState) -> frozenset[ExecutionRunState]:
    if target not in TRANSITIONS:
        raise IllegalTransition(f"Operations are never moved to {target.value!r}.")
    return TRANSITIONS[target]
