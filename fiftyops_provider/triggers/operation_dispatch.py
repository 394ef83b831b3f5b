"""``OperationDispatchTrigger``: the dispatcher itself, running in the triggerer.

It watches the operation store like ``QueuedOperationTrigger`` (a change stream, filtered on the
server) and, whenever there is work, runs a dispatch round (reap dead runs, admit scheduled
operations, pick up queued ones) and starts each picked operation's operator DAG run through
Airflow's REST API. An operation then costs one task start, the operator task's, exactly like a
REST-triggered DAG run: no sensor resumes and no ``TriggerDagRunOperator`` runs in between.

Safe to run twice (a triggerer handing over): a pick-up is atomic, and the run id is fixed by the
operation and its attempt, so a second start of the same run is refused by Airflow (409) and
counted as started. A run that cannot be started (API server down) has its pick-up released and
is retried with backoff; nothing is lost.

It is given connection ids, never credentials (trigger kwargs are stored in Airflow's metadata
database): the FiftyOps connection and the Airflow REST API connection are looked up in the
triggerer, with the async lookup, each time the trigger starts.

Store and API calls are blocking, so each round runs in a worker thread, never on the
triggerer's event loop. The trigger ends after ``run_for`` seconds, with the number of runs it
started; the continuous dispatcher DAG then starts a fresh run, so the dispatcher's history stays
readable in the Airflow UI.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import TriggerEvent
from pymongo import MongoClient
from pymongo.errors import PyMongoError
from requests import RequestException

from fiftyops_provider.dag_factory.naming import operation_run
from fiftyops_provider.execution.dispatch_round import dispatch_round
from fiftyops_provider.hooks.airflow_api import AirflowAPIHook, APICredentials, async_api_credentials
from fiftyops_provider.hooks.airflow_rest_client import AirflowAPI, AirflowAPIError
from fiftyops_provider.store import DelegatedOperationService
from fiftyops_provider.store.routing import Routing, parse_delegation_targets
from fiftyops_provider.triggers.queued_operation import APP_NAME, Backoff, QueuedOperationTrigger

logger = logging.getLogger(__name__)

DISPATCH_FAILURES = (AirflowAPIError, RequestException, PyMongoError)
MAX_OPERATIONS_PER_ROUND = 32
RUN_FOR_SECONDS = 3600.0


class RunStarter:
    """One dispatch round and the runs it starts (blocking; the trigger calls it in a thread)."""

    def __init__(
        self,
        uri: str,
        database: str,
        api: APICredentials,
        picker: str,
        quota: int | None,
        limit: int,
    ) -> None:
        self.client: MongoClient = MongoClient(uri, serverSelectionTimeoutMS=10_000, appname=f"{APP_NAME}-dispatch")
        db = self.client[database]
        self.service = DelegatedOperationService(db)
        self.credentials = api
        self._api: AirflowAPI | None = None
        self.picker = picker
        self.quota = quota
        self.limit = limit

    def round(self, routing: Routing | None) -> int:
        """Runs started this round, of the operations ``routing`` takes (the trigger's, so what
        woke it and what is taken agree). If one cannot be started, the pick-ups not yet handed
        over are released and the error is raised (the caller backs off and tries again)."""
        if self._api is None:  # logged in on first use, so an API server still starting is retried
            self._api = self.credentials.client()
        picked = dispatch_round(self.service, self.picker, limit=self.limit, quota=self.quota, routing=routing)
        for index, doc in enumerate(picked):
            run = operation_run(str(doc.id), doc.operator, doc.attempt)
            try:
                created = self._api.start_run(run["trigger_dag_id"], run["trigger_run_id"], run["conf"])
            except DISPATCH_FAILURES:
                for left in picked[index:]:
                    self.service.release_pick_up(left.id, self.picker)
                raise
            logger.info(
                "Operation %s (%s): %s run %s",
                doc.id,
                doc.operator,
                "started" if created else "already has",
                run["trigger_run_id"],
            )
        return len(picked)

    def close(self) -> None:
        self.client.close()


class OperationDispatchTrigger(QueuedOperationTrigger):
    """Starts one operator DAG run per queued operation until ``run_for`` seconds have passed,
    then fires ``{"status": "done", "started": n}``.

    :param airflow_api_conn_id: the Airflow REST API connection (``AirflowAPIHook``).
    :param picker: the name pick-ups are recorded under (the dispatcher task).
    :param max_operations: most operations picked up per round.
    :param run_for: seconds before the trigger ends (the dispatcher DAG then runs again).
    :param delegation_targets: the targets served (None: the default, ``store.routing``); this
        trigger always routes, so it never takes or fails anyone else's operation.
    Other parameters: as ``QueuedOperationTrigger`` (``quota`` is the admission limit).
    """

    # No debounce: every millisecond here is dispatch latency, and a burst costs at most a few
    # extra rounds, each of which takes everything there is.
    debounce_seconds = 0.0

    def __init__(
        self,
        *,
        airflow_api_conn_id: str = AirflowAPIHook.default_conn_name,
        picker: str,
        max_operations: int = MAX_OPERATIONS_PER_ROUND,
        run_for: float = RUN_FOR_SECONDS,
        **kwargs: Any,
    ) -> None:
        if kwargs.get("delegation_targets") is None:
            kwargs["delegation_targets"] = list(parse_delegation_targets(None))
        super().__init__(**kwargs)
        self.airflow_api_conn_id = airflow_api_conn_id
        self.picker = picker
        self.max_operations = max_operations
        self.run_for = run_for

    def serialize(self) -> tuple[str, dict[str, Any]]:
        classpath, kwargs = super().serialize()
        return classpath, {
            **kwargs,
            "airflow_api_conn_id": self.airflow_api_conn_id,
            "picker": self.picker,
            "max_operations": self.max_operations,
            "run_for": self.run_for,
        }

    async def run(self) -> AsyncIterator[TriggerEvent]:
        started = 0
        starter: RunStarter | None = None
        try:
            async with asyncio.timeout(self.run_for):
                uri, database = await self._connection()
                starter = RunStarter(
                    uri,
                    database,
                    await async_api_credentials(self.airflow_api_conn_id),
                    self.picker,
                    self.quota,
                    self.max_operations,
                )
                backoff = Backoff()
                async for _ in self._work_events(once=False, settle=False):
                    try:
                        started += await asyncio.to_thread(starter.round, self._routing)
                        backoff.reset()
                    except DISPATCH_FAILURES as exc:
                        await backoff.wait("FiftyOps dispatcher: cannot start runs", exc)
        except TimeoutError:
            pass
        finally:
            if starter is not None:
                starter.close()
        yield TriggerEvent({"status": "done", "started": started})
