"""Which operations a dispatcher has work for, as MongoDB filters.

Shared by the service (pick-up, admission) and by the async trigger that waits for work, so
"is there something to do?" and "do it" can never disagree. Every filter of work to take is
narrowed by the deployment's ``Routing`` (``store.routing``), so work meant for someone else is
never taken.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fiftyops_provider.store.query import build_filter, combine
from fiftyops_provider.store.routing import Routing
from fiftyops_provider.store.states import ACTIVE_STATES
from fiftyops_provider.store.states import ExecutionRunState as S

# A dispatcher that picked an operation but never got it claimed (it died) releases it after this.
PICKUP_EXPIRY = timedelta(minutes=10)


def scope_filter(
    operator: str | None = None,
    delegation_target: str | None = None,
    dataset_name: str | None = None,
    routing: Routing | None = None,
) -> dict[str, Any]:
    """A dispatcher's operations: those of ``routing`` (None: every one), narrowed to one
    operator, target or dataset when given."""
    narrowed = build_filter(
        {"operator": operator, "delegation_target": delegation_target, "dataset_name": dataset_name}
    )
    return combine(narrowed, routing.query() if routing is not None else {})


def pickable_filter(scope: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Queued and not handed to a dispatcher (or handed so long ago that the pick-up expired)."""
    unpicked = {"$or": [{"dispatch": None}, {"dispatch.at": {"$lt": now - PICKUP_EXPIRY}}]}
    return combine(scope, {"run_state": S.QUEUED.value}, unpicked)


def scheduled_filter(scope: dict[str, Any]) -> dict[str, Any]:
    return combine(scope, {"run_state": S.SCHEDULED.value})


def active_filter(delegation_target: str | None, routing: Routing | None = None) -> dict[str, Any]:
    """What counts against the execution quota: queued + running (per target when given; only
    the deployment's own operations when ``routing`` is given)."""
    return combine(
        scope_filter(delegation_target=delegation_target, routing=routing),
        {"run_state": {"$in": [s.value for s in ACTIVE_STATES]}},
    )


def stale_running_filter(heartbeat_before: datetime) -> dict[str, Any]:
    return {"run_state": S.RUNNING.value, "heartbeat_at": {"$lt": heartbeat_before}}
