"""``QueuedOperationTrigger``: waits in the triggerer until the dispatcher has work.

Work means: a queued operation not yet picked up; a scheduled one while the execution quota has
room; or a running one whose heartbeat went stale (the sensor's dispatch round reaps it). The
trigger opens a MongoDB change stream on ``delegated_ops`` first, then checks, then re-checks on
every change that can create work, so nothing that happens in between is missed. The stream is
filtered on the server (``change_pipeline``): heartbeats, progress and log updates, which are most
writes while operations run, never wake it, and neither does an operation that is not this
deployment's (``store.routing``: another delegation target, or no target and an operator it has
no runner for). A change of the plugin registry (a plugin installed, enabled, disabled) reopens
the stream with the new set of runnable operators. While nothing is running it issues no queries except
the change stream's own long-poll (one ``getMore`` a minute), so an idle deployment costs the
database almost nothing; while operations run it also wakes every ``reap_interval`` to notice a
dead worker. A stream that ends (the collection was dropped or renamed) is reopened. Without
change streams (a standalone mongod) it polls.

It takes the FiftyOps connection's id, never a URI: trigger kwargs are stored in Airflow's
metadata database (``trigger`` table), and an asset watcher's are part of the serialized DAG, so
credentials stay in the connection (or the secrets backend behind it), as with Airflow's own
providers. The triggerer resolves the connection with the async lookup, so its event loop never
blocks on it; pymongo's ``AsyncMongoClient`` keeps the rest non-blocking.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from airflow.triggers.base import BaseEventTrigger, BaseTrigger, TriggerEvent
from pymongo import AsyncMongoClient, MongoClient
from pymongo.errors import OperationFailure, PyMongoError

from fiftyops_provider.dag_factory.settings import apply_fiftyone_python
from fiftyops_provider.execution.dispatch_round import deployment_routing
from fiftyops_provider.execution.sources import RegistrySource
from fiftyops_provider.plugins.registry import PLUGINS_COLLECTION
from fiftyops_provider.store.documents import utcnow
from fiftyops_provider.store.query import build_filter
from fiftyops_provider.store.routing import Routing
from fiftyops_provider.store.states import ExecutionRunState as S
from fiftyops_provider.store.work_watch import OPERATIONS_EVENTS, OperationWorkWatch

logger = logging.getLogger(__name__)

CHANGE_STREAM_AWAIT_MS = 55_000
APP_NAME = "fiftyops-trigger"  # shows in MongoDB logs, currentOp and the profiler
DEBOUNCE_SECONDS = 0.05
MAX_BACKOFF_SECONDS = 30.0
# OperationFailure codes meaning "this server has no change streams": 40573 (not a replica set),
# 40324 (unknown pipeline stage: a server or emulator without $changeStream). Any other failure is
# an error worth seeing, not a reason to poll silently.
NO_CHANGE_STREAM_CODES = frozenset({40573, 40324})
# The top-level fields whose update can create work: a state change (also one that frees quota),
# a pick-up or its release, a move to another operator, target or dataset (inside ``context``).
WORK_FIELDS = ("run_state", "dispatch", "operator", "delegation_target", "context")


class Backoff:
    """Waits between retries of a failing call: 1 s, doubling up to ``MAX_BACKOFF_SECONDS``,
    back to 1 s after a success."""

    def __init__(self) -> None:
        self.delay = 1.0

    def reset(self) -> None:
        self.delay = 1.0

    async def wait(self, what: str, exc: Exception) -> None:
        logger.warning("%s: %s; retrying in %.0fs", what, exc, self.delay)
        await asyncio.sleep(self.delay)
        self.delay = min(self.delay * 2, MAX_BACKOFF_SECONDS)


def _touches_work_fields(paths: dict[str, Any]) -> dict[str, Any]:
    """Aggregation expression: does any of ``paths`` (an array of dotted field paths) start with
    a work field? Dotted paths appear when an update sets a subfield, e.g. ``dispatch.at``."""
    return {
        "$anyElementTrue": [
            {
                "$map": {
                    "input": paths,
                    "as": "path",
                    "in": {"$in": [{"$first": {"$split": ["$$path", "."]}}, list(WORK_FIELDS)]},
                }
            }
        ]
    }


def change_pipeline(narrowed: dict[str, Any], routing: Routing | None = None) -> list[dict[str, Any]]:
    """The change-stream filter (of a database-wide stream): the changes after which ``has_work``
    may have become true.

    In ``delegated_ops``: inserts of queued or scheduled operations that are the deployment's
    (``routing``, None: any) and match ``narrowed`` (exact-match fields); updates touching
    ``WORK_FIELDS`` (the update event does not carry the document, so these are re-checked
    whatever their scope); replaces and deletes (a deleted run frees quota); and the events that
    end the stream (drop, rename, invalidate), so it is reopened. With ``routing``, any change of
    the plugin registry too (the set of runnable operators may have changed).
    """
    updated = {
        "$map": {
            "input": {"$objectToArray": {"$ifNull": ["$updateDescription.updatedFields", {}]}},
            "as": "field",
            "in": "$$field.k",
        }
    }
    removed = {"$ifNull": ["$updateDescription.removedFields", []]}
    insert: dict[str, Any] = {
        "operationType": "insert",
        "fullDocument.run_state": {"$in": [S.QUEUED.value, S.SCHEDULED.value]},
        **{f"fullDocument.{path}": value for path, value in narrowed.items()},
    }
    if routing is not None:
        insert["$and"] = [routing.query(prefix="fullDocument.")]
    operations = {
        **OPERATIONS_EVENTS,
        "$or": [
            insert,
            {
                "operationType": "update",
                "$expr": {"$or": [_touches_work_fields(updated), _touches_work_fields(removed)]},
            },
            {"operationType": {"$nin": ["insert", "update"]}},
        ],
    }
    ends = {"operationType": {"$in": ["invalidate", "dropDatabase"]}}
    watched = [operations, ends] + ([{"ns.coll": PLUGINS_COLLECTION}] if routing is not None else [])
    return [{"$match": {"$or": watched}}]


class QueuedOperationTrigger(BaseTrigger):
    """Fires ``{"status": "ready"}`` once the dispatcher has work in its scope; it never picks
    anything up itself (the resumed sensor does that atomically, so two dispatchers woken by the
    same change cannot both take an operation).

    :param conn_id: the FiftyOps connection (``FiftyOpsHook``): the MongoDB server and, as its
        schema, the database holding ``delegated_ops``. Resolved in the triggerer.
    :param operator, delegation_target, dataset_name: the dispatcher's scope (None: any).
    :param quota: scheduled operations count as work only while fewer than this many are queued
        or running (None: no quota).
    :param poll_interval: seconds between checks when the server has no change streams.
    :param reap_interval: longest wait while an operation runs, to notice a stale heartbeat.
    :param stale_after: seconds without a heartbeat after which a running operation is work.
    :param use_change_stream: False polls even on a replica set.
    :param delegation_targets: the targets this deployment serves: only its operations are work
        (``store.routing``; None: every operation, whoever it is for).
    """

    # After a change, wait this long before re-checking, so a burst of writes gives one event.
    debounce_seconds = DEBOUNCE_SECONDS

    def __init__(
        self,
        conn_id: str = "fiftyops_default",
        operator: str | None = None,
        delegation_target: str | None = None,
        dataset_name: str | None = None,
        quota: int | None = None,
        poll_interval: float = 5.0,
        reap_interval: float = 60.0,
        stale_after: float = 15.0,
        use_change_stream: bool = True,
        delegation_targets: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.conn_id = conn_id
        self.database = ""  # the connection's schema, once resolved
        self.operator = operator
        self.delegation_target = delegation_target
        self.dataset_name = dataset_name
        self.quota = quota
        self.poll_interval = poll_interval
        self.reap_interval = reap_interval
        self.stale_after = stale_after
        self.use_change_stream = use_change_stream
        self.delegation_targets = delegation_targets
        self._routing: Routing | None = None
        self._registry_client: MongoClient | None = None  # sync, for the registry (in a thread)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "conn_id": self.conn_id,
                "operator": self.operator,
                "delegation_target": self.delegation_target,
                "dataset_name": self.dataset_name,
                "quota": self.quota,
                "poll_interval": self.poll_interval,
                "reap_interval": self.reap_interval,
                "stale_after": self.stale_after,
                "use_change_stream": self.use_change_stream,
                "delegation_targets": self.delegation_targets,
            },
        )

    async def has_work(self, operations: OperationWorkWatch) -> bool:
        """The same conditions the sensor's dispatch round acts on (``store.work`` filters)."""
        stale_before = utcnow() - timedelta(seconds=self.stale_after)
        return await operations.has_work(
            self.operator, self.delegation_target, self.dataset_name, self.quota, stale_before, self._routing
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        async for _ in self._work_events(once=True):
            yield TriggerEvent({"status": "ready"})

    async def _work_events(self, once: bool, settle: bool = True) -> AsyncIterator[None]:
        """Yield each time there is work; with ``once``, after the first time. ``settle``: after
        a yield, wait for the next relevant change before checking again (the consumer acts
        later, elsewhere); without it, the consumer has acted when the generator resumes, so
        work that is left is announced at once. A database outage is waited out with backoff
        (the sensor's timeout bounds the wait)."""
        backoff = Backoff()
        while True:
            uri, self.database = await self._connection()
            client: AsyncMongoClient = AsyncMongoClient(uri, serverSelectionTimeoutMS=10_000, appname=APP_NAME)
            if self.delegation_targets is not None:
                self._registry_client = MongoClient(uri, serverSelectionTimeoutMS=10_000, appname=APP_NAME)
            try:
                operations = OperationWorkWatch(client[self.database])
                while True:
                    if self.use_change_stream:
                        await self._watch(operations)
                    else:
                        await self._poll(operations)
                    yield
                    if once:
                        return
                    if settle:
                        await self._wait_for_change(operations)
                    backoff.reset()
            except PyMongoError as exc:  # the database is down or failing over: wait, then retry
                await backoff.wait("FiftyOps trigger", exc)
            finally:
                await client.close()
                if self._registry_client is not None:
                    self._registry_client.close()

    async def _connection(self) -> tuple[str, str]:
        """(URI, database) of ``conn_id``, looked up now, in the triggerer."""
        from fiftyops_provider.hooks.fiftyops import async_client_uri

        return await async_client_uri(self.conn_id)

    async def _refresh_routing(self) -> None:
        """Read the deployment's routing now (the registry's runnable operators may have changed);
        without ``delegation_targets`` every operation is work."""
        if self.delegation_targets is None or self._registry_client is None:
            return
        apply_fiftyone_python()
        source = RegistrySource(self._registry_client[self.database])
        self._routing = await asyncio.to_thread(deployment_routing, source, self.delegation_targets)

    def _stream_await_ms(self) -> int:
        return int(min(CHANGE_STREAM_AWAIT_MS, self.reap_interval * 1000))

    async def _open_stream(self, operations: OperationWorkWatch) -> Any:
        """A database-wide stream (it also sees the plugin registry), filtered on the server."""
        narrowed = build_filter(
            {"operator": self.operator, "delegation_target": self.delegation_target, "dataset_name": self.dataset_name}
        )
        return await operations.watch(change_pipeline(narrowed, self._routing), self._stream_await_ms())

    async def _wait_for_change(self, operations: OperationWorkWatch) -> None:
        """After work was announced: wait for the next relevant write (the dispatcher picking it
        up, or new work) or ``reap_interval``, so one burst of work gives one event, not a loop of
        them."""
        if not self.use_change_stream:
            await asyncio.sleep(self.poll_interval)
            return
        async with await self._open_stream(operations) as stream:
            await stream.try_next()

    async def _watch(self, operations: OperationWorkWatch) -> None:
        """Return once there is work, re-checking after each relevant change. A stream that ends
        (an invalidate event: the collection was dropped or renamed) is reopened: a dead stream's
        ``try_next`` returns None at once, and waiting on it would spin and block the loop."""
        while True:
            await self._refresh_routing()
            try:
                stream = await self._open_stream(operations)
            except OperationFailure as exc:
                if exc.code not in NO_CHANGE_STREAM_CODES:
                    raise
                logger.warning(
                    "FiftyOps trigger: change streams unavailable (%s); polling every %ss", exc, self.poll_interval
                )
                self.use_change_stream = False
                await self._poll(operations)
                return
            async with stream:
                while stream.alive:
                    if await self.has_work(operations):
                        return
                    change = await self._next_change(operations, stream)
                    await asyncio.sleep(self.debounce_seconds)
                    if change is not None and change.get("ns", {}).get("coll") == PLUGINS_COLLECTION:
                        break  # reopen with the registry's new runnable operators

    async def _next_change(self, operations: OperationWorkWatch, stream: Any) -> dict[str, Any] | None:
        """The next relevant change, or None at the end of the stream; while an operation runs,
        wait for at most ``reap_interval`` (its heartbeat may go stale without any write)."""
        loop = asyncio.get_running_loop()
        wake_at = loop.time() + self.reap_interval if await operations.any_running() else None
        while stream.alive:
            change = await stream.try_next()
            if change is not None:
                return change
            if wake_at is not None and loop.time() >= wake_at:
                return None
        return None

    async def _poll(self, operations: OperationWorkWatch) -> None:
        await self._refresh_routing()
        while not await self.has_work(operations):
            await asyncio.sleep(self.poll_interval)
            await self._refresh_routing()


class QueuedOperationEventTrigger(QueuedOperationTrigger, BaseEventTrigger):
    """The event-driven variant, for an ``AssetWatcher``: runs for as long as the watching DAG
    exists and yields one event per burst of new work, each of which starts a run of the
    event-driven dispatcher DAG."""

    async def run(self) -> AsyncIterator[TriggerEvent]:
        async for _ in self._work_events(once=False):
            yield TriggerEvent({"status": "ready"})
