"""Which operations a dispatcher has work for, as MongoDB filters.

Shared by the service (pick-up, admission) and by the async trigger that waits for work, so
"is there something to do?" and "do it" can never disagree.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fiftyops_provider.store.query import build_filter
from fiftyops_provider.store.states import ACTIVE_STATES
from fiftyops_provider.store.states import ExecutionRunState as S

# A dispatcher that picked an operation but never got it claimed (it died) releases it after this.
PICKUP_EXPIRY = timedelta(minutes=10)


def scope_filter(
    operator: str | None = None, delegation_target: str | None = None, dataset_name: str | None = None
) -> dict[str, Any]:
    return build_filter({"operator": operator, "delegation_target": delegation_target, "dataset_name": dataset_name})


def pickable_filter(scope: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Queued and not handed to a dispatcher (or handed so long ago that the pick-up expired)."""
    return {
        **scope,
        "run_state": S.QUEUED.value,
        "$or": [{"dispatch": None}, {"dispatch.at": {"$lt": now - PICKUP_EXPIRY}}],
    }


def scheduled_filter(scope: dict[str, Any]) -> dict[str, Any]:
    return {**scope, "run_state": S.SCHEDULED.value}


def active_filter(delegation_target: str | None) -> dict[str, Any]:
    """What counts against the execution quota: queued + running (per target when given)."""
    scope = {"delegation_target": delegation_target} if delegation_target else {}
    return {**scope, "run_state": {"$in": [s.value for s in ACTIVE_STATES]}}


def stale_running_filter(heartbeat_before: datetime) -> dict[str, Any]:
    return {"run_state": S.RUNNING.value, "heartbeat_at": {"$lt": heartbeat_before}}
