"""The operations collection as a trigger sees it: read-only and async, for the triggerer's event
loop, where the blocking service cannot be used.

A trigger only asks whether a dispatcher has work and waits for the changes that may create some;
the work itself (pick-up, admission, reaping) is done by ``DelegatedOperationService`` calls in
the resumed task or the dispatch round. Both ask with the same ``store.work`` filters, so "is
there something to do?" and "do it" can never disagree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.asynchronous.change_stream import AsyncChangeStream
from pymongo.asynchronous.database import AsyncDatabase

from fiftyops_provider.store.documents import COLLECTION_NAME, utcnow
from fiftyops_provider.store.routing import Routing
from fiftyops_provider.store.states import ExecutionRunState as S
from fiftyops_provider.store.work import (
    active_filter,
    pickable_filter,
    scheduled_filter,
    scope_filter,
    stale_running_filter,
)

OPERATIONS_EVENTS = {"ns.coll": COLLECTION_NAME}
"""Matches the change events of the operations collection, for a watch over the whole database
(which also sees plugin installs): the store names its collection, no one else does."""


class OperationWorkWatch:
    """Read-only async questions about the operations in ``db``.

    :param db: the (async client's) database holding ``delegated_ops``.
    """

    def __init__(self, db: AsyncDatabase) -> None:
        self._db = db
        self._collection = db[COLLECTION_NAME]

    async def has_work(
        self,
        operator: str | None,
        delegation_target: str | None,
        dataset_name: str | None,
        quota: int | None,
        stale_before: datetime,
        routing: Routing | None = None,
    ) -> bool:
        """Whether a dispatcher of this scope has something to do: a pickable queued operation, a
        scheduled one it may admit under ``quota``, or a running one to reap.

        :param operator, delegation_target, dataset_name: the dispatcher's scope (None: any).
        :param quota: most queued + running operations (None: no quota).
        :param stale_before: a running operation whose heartbeat is older than this is work.
        :param routing: only this deployment's operations are work (``store.routing``; None: any).
        """
        scope = scope_filter(operator, delegation_target, dataset_name, routing)
        if await self._collection.find_one(pickable_filter(scope, utcnow()), {"_id": 1}):
            return True
        if await self._collection.find_one(scheduled_filter(scope), {"_id": 1}) and (
            quota is None
            or await self._collection.count_documents(active_filter(delegation_target, routing), limit=quota) < quota
        ):
            return True
        return bool(await self._collection.find_one(stale_running_filter(stale_before), {"_id": 1}))

    async def any_running(self) -> bool:
        """Whether any operation runs: its heartbeat may go stale without any write to wake a
        watcher, so the watcher must also wake up on its own."""
        return bool(await self._collection.find_one({"run_state": S.RUNNING.value}, {"_id": 1}))

    async def watch(self, pipeline: list[dict[str, Any]], max_await_time_ms: int) -> AsyncChangeStream:
        """A database-wide change stream (the operations and the plugin registry beside them).

        :param pipeline: the change-stream filter (which changes may create work; it names the
            collections it wants by ``ns.coll``).
        :param max_await_time_ms: longest wait of one ``try_next`` on the server.
        """
        return await self._db.watch(pipeline, max_await_time_ms=max_await_time_ms)
