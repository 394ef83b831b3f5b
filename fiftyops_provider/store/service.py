"""``DelegatedOperationService``: the operation store's API (FiftyOne's method names and return
values), with the state machine enforced and untrusted input refused before it reaches MongoDB.

Transition methods return the updated document, or None when a ``required_state``
compare-and-set did not match (another writer got there first).
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import bson
from bson import ObjectId
from pymongo.database import Database

from fiftyops_provider.store.documents import (
    DelegatedOperationDocument,
    ExecutionProgress,
    ExecutionResult,
    utcnow,
)
from fiftyops_provider.store.errors import (
    IllegalTransition,
    InvalidOperation,
    InvalidOperationId,
    InvalidQuery,
    NotRerunnable,
    OperationNotFound,
)
from fiftyops_provider.store.leases import Lease
from fiftyops_provider.store.log_archive import OperationLogArchive, tail_is_whole_log
from fiftyops_provider.store.query import (
    DelegatedOperationPagingParams,
    build_filter,
    build_search,
    combine,
    to_object_id,
)
from fiftyops_provider.store.repo import MongoDelegatedOperationRepo
from fiftyops_provider.store.routing import Routing
from fiftyops_provider.store.states import (
    TERMINAL_STATES,
    WAITING_STATES,
    ExecutionRunState,
    parse_state,
    sources_for,
)
from fiftyops_provider.store.values import check_storable
from fiftyops_provider.store.work import (
    active_filter,
    pickable_filter,
    scheduled_filter,
    scope_filter,
    stale_running_filter,
)

S = ExecutionRunState
MAX_CONTEXT_BYTES = 1024 * 1024
MAX_LABEL_LENGTH = 512
DEFAULT_LIST_LIMIT = 1000
# Page totals are exact up to this many matches, then shown as "10000+": an exact count of a
# million-row filter costs a scan, and nobody pages that far.
PAGE_COUNT_CAP = 10_000


@dataclass
class OperationPage:
    """One page of a listing and the total number of matches (for "1-10 of 532")."""

    items: list[DelegatedOperationDocument]
    total: int
    skip: int
    limit: int
    total_is_exact: bool = True


def _held(claim_token: str | None, heartbeat_at: datetime | None) -> dict[str, Any] | None:
    """The compare-and-set condition of a write made for a claimer (its token) or about its
    silence (the heartbeat the writer saw); None when there is neither."""
    held: dict[str, Any] = {}
    if claim_token:
        held["claim_token"] = claim_token
    if heartbeat_at is not None:
        held["heartbeat_at"] = heartbeat_at
    return held or None


def _oid(doc_id: object) -> ObjectId:
    if isinstance(doc_id, ObjectId):
        return doc_id
    if isinstance(doc_id, str) and ObjectId.is_valid(doc_id):
        return ObjectId(doc_id)
    raise InvalidOperationId(doc_id)


def _label(value: object, what: str = "label") -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidOperation(f"{what} must be a non-empty string.")
    if len(value) > MAX_LABEL_LENGTH:
        raise InvalidOperation(f"{what} is {len(value)} characters; the limit is {MAX_LABEL_LENGTH}.")
    return value


def normalize_context(context: Any) -> dict[str, Any]:
    """``{"request_params": {...}}`` with ``params`` a dict and ``delegated: True``: the one shape stored,
    whichever form a caller passes, so readers (executor, Run page, FiftyOne) need not guess.

    :param context: that dict form, or any object with a ``request_params`` mapping (an
        ``ExecutionContext``), or None (no inputs).
    :raises InvalidOperation: a malformed context, or inputs too large or not storable in MongoDB.
    """
    if context is None:
        request_params: Any = {}
    elif isinstance(context, Mapping):
        if "request_params" not in context:
            raise InvalidOperation("context must look like {'request_params': {...}}.")
        request_params = context["request_params"]
    else:
        request_params = getattr(context, "request_params", None)
    if request_params is None:
        request_params = {}
    if not isinstance(request_params, Mapping):
        raise InvalidOperation("context['request_params'] must be a dict.")
    check_storable(request_params.get("params"))
    try:
        request_params = copy.deepcopy(dict(request_params))
    except RecursionError:
        raise InvalidOperation("The operation's request_params nest too deeply to be stored.") from None
    params = request_params.get("params")
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise InvalidOperation("request_params['params'] must be a dict of operator inputs.")
    params = dict(params)
    params.pop("panel_state", None)
    request_params["params"] = params
    request_params["delegated"] = True
    try:
        size = len(bson.encode(request_params))
    except (bson.errors.InvalidDocument, OverflowError) as exc:
        raise InvalidOperation(f"The operation's inputs cannot be stored: {exc}") from None
    if size > MAX_CONTEXT_BYTES:
        raise InvalidOperation(
            f"The operation's inputs are {size} bytes; the limit is {MAX_CONTEXT_BYTES}. "
            "Pass large data by reference (a path or a dataset) instead."
        )
    return {"request_params": request_params}


def progress_status(progress: ExecutionProgress | Mapping[str, Any] | float | None, label: str | None = None) -> dict:
    """The ``status`` document for a progress report; raises ``InvalidOperation`` for a value the
    store refuses (the executor checks reports with it where the operator can see the error).

    :param progress: a fraction in [0, 1], an ``ExecutionProgress``, or its dict form.
    :param label: what the operation is doing now, shown beside the bar.
    """
    if isinstance(progress, ExecutionProgress):
        value, label = progress.progress, progress.label
    elif isinstance(progress, Mapping):
        value, label = progress.get("progress"), progress.get("label")
    else:
        value = progress
    if value is None and label is None:
        raise InvalidOperation("Progress needs a fraction between 0 and 1, a label, or both.")
    if value is not None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise InvalidOperation(f"Progress must be a number between 0 and 1, got {value!r}.")
        value = float(value)
    if label is not None:
        label = _label(label, "progress label")
    return ExecutionProgress(value, label, utcnow()).to_json()


def _result(result: Any) -> ExecutionResult | None:
    wrapped = result if result is None or isinstance(result, ExecutionResult) else ExecutionResult(result=result)
    if wrapped is not None:
        try:
            bson.encode({"result": wrapped.to_json(), "outputs_schema": wrapped.outputs_schema})
        except (bson.errors.InvalidDocument, OverflowError) as exc:
            raise InvalidOperation(
                f"The operation's result cannot be stored (it must be JSON-like: dicts, lists, strings, numbers): {exc}"
            ) from None
    return wrapped


class DelegatedOperationService:
    """The operation store, and the one owner of every change to it: nothing outside ``store/``
    reaches the collection or the repository, so every guard (state machine, compare-and-set,
    pipeline bookkeeping) is applied in one place.

    :param db: the database holding ``delegated_ops``; default: the configured one
        (``FIFTYOPS_DATABASE_URI``, or the embedded mongod).
    """

    def __init__(self, db: Database | None = None) -> None:
        if db is None:
            from fiftyops_provider.database import get_database

            db = get_database()
        if not isinstance(db, Database):
            raise TypeError(
                f"DelegatedOperationService takes the pymongo Database holding the store, not {type(db).__name__}."
            )
        self._repo = MongoDelegatedOperationRepo(db)

    @property
    def database(self) -> Database:
        """The database holding the store: the plugin registry and the datasets live beside it, and
        processes the executor starts connect to it by name."""
        return self._repo.db

    # -- creating ------------------------------------------------------------------------------
    def queue_operation(
        self,
        operator: str,
        label: str | None = None,
        delegation_target: str | None = None,
        context: Any = None,
        metadata: Mapping[str, Any] | None = None,
        pipeline: Any = None,
        rerunnable: bool = True,
        *,
        queued_by: str | None = None,
        parent_id: object = None,
        execution_timeout: float | None = None,
        initial_state: ExecutionRunState | str = S.SCHEDULED,
        rerun_of: object = None,
    ) -> DelegatedOperationDocument:
        """Insert a new operation. It starts ``scheduled`` (waiting for execution quota) unless
        ``initial_state="queued"`` is asked for, as FiftyOne OSS does.

        :param operator: the operator's URI (``@org/plugin/operator``).
        :param label: the name shown in listings (default: the URI).
        :param delegation_target: which orchestrator may run it (None: any).
        :param context: the operator's inputs (see ``normalize_context``).
        :param metadata: free-form data kept with the run (e.g. ``inputs_schema`` for the Run page).
        :param pipeline: a ``Pipeline`` (or its json): the operation runs these stages in order.
        :param rerunnable: False when a rerun would be unsafe (the operator says so).
        :param queued_by: the user it runs as; permissions are checked against them.
        :param parent_id: the pipeline operation this one is a stage of.
        :param execution_timeout: seconds before the executor stops it (default: the operator's).
        :param initial_state: ``scheduled`` (admitted under the quota) or ``queued`` (runnable now).
        :param rerun_of: the operation this one reruns, for the record.
        :raises InvalidOperation: bad input; nothing is written.
        """
        operator = _label(operator, "operator")
        state = parse_state(initial_state)
        if state not in (S.SCHEDULED, S.QUEUED):
            raise IllegalTransition("New operations start scheduled or queued.")
        if metadata is not None and not isinstance(metadata, Mapping):
            raise InvalidOperation("metadata must be a dict.")
        if delegation_target is not None:
            _label(delegation_target, "delegation_target")
        if execution_timeout is not None and (
            isinstance(execution_timeout, bool)
            or not isinstance(execution_timeout, (int, float))
            or execution_timeout <= 0
        ):
            raise InvalidOperation("execution_timeout must be a positive number of seconds.")
        ctx = normalize_context(context)
        pipeline_json = pipeline.to_json() if hasattr(pipeline, "to_json") else pipeline
        if pipeline_json is not None and not isinstance(pipeline_json, Mapping):
            raise InvalidOperation("pipeline must be a Pipeline or its {'stages': [...]} json.")
        now = utcnow()
        dataset_id = ctx["request_params"].get("dataset_id")
        doc = DelegatedOperationDocument(
            operator=operator,
            label=_label(label, "label") if label else operator,
            delegation_target=delegation_target,
            context=ctx,
            run_state=state,
            queued_at=now if state is S.QUEUED else None,
            scheduled_at=now if state is S.SCHEDULED else None,
            updated_at=now,
            metadata=dict(metadata or {}),
            dataset_id=ObjectId(dataset_id) if isinstance(dataset_id, str) and ObjectId.is_valid(dataset_id) else None,
            rerunnable=bool(rerunnable),
            parent_id=_oid(parent_id) if parent_id is not None else None,
            pipeline=dict(pipeline_json) if pipeline_json else None,
            queued_by=queued_by,
            execution_timeout=float(execution_timeout) if execution_timeout else None,
            rerun_of=_oid(rerun_of) if rerun_of is not None else None,
        )
        return self._repo.insert(doc)

    def rerun_operation(self, doc_id: object, queued_by: str | None = None) -> DelegatedOperationDocument:
        """Queue a brand-new document with the same operator, inputs and target; the original stays
        (terminal states are final, so a rerun is always a new run with its own record).

        :param doc_id: the operation to run again.
        :param queued_by: who asks (default: the original's user).
        :raises NotRerunnable: its operator forbids reruns, or it is a pipeline stage.
        """
        doc = self.get(doc_id)
        if not doc.rerunnable:
            raise NotRerunnable(f"Operation {doc.id} is marked not rerunnable (its operator set rerunnable=False).")
        if doc.parent_id is not None:
            raise NotRerunnable("Pipeline child operations cannot be rerun alone; rerun the parent pipeline.")
        return self.queue_operation(
            doc.operator,
            label=doc.label,
            delegation_target=doc.delegation_target,
            context=doc.context,
            metadata=doc.metadata,
            pipeline=doc.pipeline,
            rerunnable=doc.rerunnable,
            queued_by=queued_by or doc.queued_by,
            execution_timeout=doc.execution_timeout,
            rerun_of=doc.id,
        )

    # -- reading -------------------------------------------------------------------------------
    def get(self, doc_id: object) -> DelegatedOperationDocument:
        """The operation ``doc_id``; a clear error instead of None, so callers never act on a missing run.

        :param doc_id: an ObjectId or its 24-hex string.
        :raises OperationNotFound: no such operation.
        :raises InvalidOperationId: not an id at all.
        """
        oid = _oid(doc_id)
        doc = self._repo.get(oid)
        if doc is None:
            raise OperationNotFound(oid)
        return doc

    def list_operations(
        self,
        operator: str | None = None,
        dataset_name: str | None = None,
        dataset_id: object = None,
        run_state: Any = None,
        delegation_target: str | None = None,
        pinned: bool | None = None,
        paging: DelegatedOperationPagingParams | Mapping[str, Any] | None = None,
        search: Any = None,
        include_archived: bool = False,
        **kwargs: Any,
    ) -> list[DelegatedOperationDocument]:
        """Matching operations (at most ``DEFAULT_LIST_LIMIT`` unless ``paging`` says otherwise), without
        counting them: FiftyOne's ``list_operations``.

        :param operator: only this operator's runs.
        :param dataset_name: only runs on this dataset (by name).
        :param dataset_id: only runs on this dataset (by id: survives a rename).
        :param run_state: one state or a list of states.
        :param delegation_target: only runs for this orchestrator.
        :param pinned: only pinned (True) or unpinned (False) runs.
        :param paging: sort, skip and limit (``DelegatedOperationPagingParams`` or its dict).
        :param search: case-sensitive search (see ``query.build_search``).
        :param include_archived: archived runs are hidden unless asked for.
        :param kwargs: more exact-match filters; only known fields (``query.FILTER_FIELDS``).
        """
        if paging is None:
            paging = DelegatedOperationPagingParams(limit=DEFAULT_LIST_LIMIT)
        return self.page_operations(
            operator=operator,
            dataset_name=dataset_name,
            dataset_id=dataset_id,
            run_state=run_state,
            delegation_target=delegation_target,
            pinned=pinned,
            paging=paging,
            search=search,
            include_archived=include_archived,
            with_total=False,
            **kwargs,
        ).items

    def page_operations(
        self,
        paging: DelegatedOperationPagingParams | Mapping[str, Any] | None = None,
        search: Any = None,
        include_archived: bool = False,
        with_total: bool = True,
        **filters: Any,
    ) -> OperationPage:
        """A page of operations and (unless ``with_total=False``) the number of matches, exact up
        to ``PAGE_COUNT_CAP`` (``total_is_exact`` says whether it was reached): "1-10 of 532".

        :param paging: sort, skip and limit.
        :param search: case-sensitive search (see ``query.build_search``).
        :param include_archived: archived runs are hidden unless asked for.
        :param with_total: False skips the count (a listing that shows no total).
        :param filters: exact-match filters on known fields (``query.FILTER_FIELDS``).
        """
        page = DelegatedOperationPagingParams.coerce(paging)
        query = combine(build_filter(filters, include_archived=include_archived), build_search(search))
        items = self._repo.find(query, page.mongo_sort(), page.skip, page.limit)
        if not with_total:
            return OperationPage(items, len(items), page.skip, page.limit)
        total = self._repo.count(query, limit=PAGE_COUNT_CAP)
        return OperationPage(items, total, page.skip, page.limit, total_is_exact=total < PAGE_COUNT_CAP)

    def count(self, filters: Mapping[str, Any] | None = None, search: Any = None) -> int:
        """How many operations match, for totals and dashboards.

        :param filters: exact-match filters on known fields (``query.FILTER_FIELDS``).
        :param search: case-sensitive search (see ``query.build_search``).
        """
        if filters is not None and not isinstance(filters, Mapping):
            raise InvalidQuery("filters must be a dict of {field: value}.")
        return self._repo.count(combine(build_filter(filters), build_search(search)))

    def get_queued_operations(self, operator: str | None = None, dataset_name: str | None = None) -> list:
        """Queued operations (admitted, waiting for an executor): FiftyOne's name for this listing.

        :param operator: only this operator's runs.
        :param dataset_name: only runs on this dataset.
        """
        return self.list_operations(operator=operator, dataset_name=dataset_name, run_state=S.QUEUED)

    def get_scheduled_operations(self, operator: str | None = None, dataset_name: str | None = None) -> list:
        """Scheduled operations (waiting for execution quota): FiftyOne's name for this listing.

        :param operator: only this operator's runs.
        :param dataset_name: only runs on this dataset.
        """
        return self.list_operations(operator=operator, dataset_name=dataset_name, run_state=S.SCHEDULED)

    def get_running_operations(self, operator: str | None = None, dataset_name: str | None = None) -> list:
        """Running operations: FiftyOne's name for this listing.

        :param operator: only this operator's runs.
        :param dataset_name: only runs on this dataset.
        """
        return self.list_operations(operator=operator, dataset_name=dataset_name, run_state=S.RUNNING)

    def get_stale_operations(self, heartbeat_before: datetime, limit: int = 100) -> list[DelegatedOperationDocument]:
        """Running operations whose last heartbeat is older than ``heartbeat_before``, oldest first
        (their executor died or lost the database). Runs without a heartbeat (claimed by FiftyOne
        itself) are never listed: nothing here can tell whether they are alive.

        :param heartbeat_before: a heartbeat older than this is stale.
        :param limit: most operations returned (the reaper works in batches).
        """
        query = stale_running_filter(heartbeat_before)
        return self._repo.find(query, [("heartbeat_at", 1), ("_id", 1)], 0, limit)

    def find_claimed(self, claim_token: str) -> DelegatedOperationDocument | None:
        """The running operation held under ``claim_token``, or None once it is no longer running
        under it. For code that knows only who claimed (a failure callback in another process
        knows its task try, not the operation).

        :param claim_token: the token the claim was made with (``set_running(claim_token=...)``).
        """
        if not isinstance(claim_token, str) or not claim_token:
            raise InvalidQuery("claim_token must be a non-empty string.")
        docs = self._repo.find({"claim_token": claim_token, "run_state": S.RUNNING.value}, [("_id", 1)], limit=1)
        return docs[0] if docs else None

    def get_queue_position(
        self, doc_id: object, *, visible_to: str | None = None, visible_datasets: Iterable[object] = ()
    ) -> int | None:
        """1-based position of a scheduled op in the admission queue (or a queued op in the claim
        queue); None for any other state.

        :param doc_id: the operation.
        :param visible_to: count only the operations ahead that this user queued or that are on
            ``visible_datasets``: the position among what the user may see, so that a page never
            reveals how many runs other people have waiting. None counts every operation.
        :param visible_datasets: dataset ids whose runs ``visible_to`` may see.
        """
        doc = self.get(doc_id)
        if doc.run_state not in WAITING_STATES:
            return None
        field = "scheduled_at" if doc.run_state is S.SCHEDULED else "queued_at"
        mine = getattr(doc, field)
        ahead = {
            "run_state": doc.run_state.value,
            "$or": [{field: {"$lt": mine}}, {field: mine, "_id": {"$lt": doc.id}}],
        }
        if visible_to is not None:
            datasets = [to_object_id(d, "dataset id") for d in visible_datasets]
            visible = {"$or": [{"queued_by": visible_to}, {"dataset_id": {"$in": datasets}}]}
            ahead = combine(ahead, visible)
        return self._repo.count(ahead) + 1

    # -- run-state transitions -----------------------------------------------------------------
    def _transition(
        self,
        doc_id: object,
        target: ExecutionRunState,
        required_state: Any = None,
        set_fields: Mapping[str, Any] | None = None,
        inc: Mapping[str, Any] | None = None,
        extra_query: Mapping[str, Any] | None = None,
    ) -> DelegatedOperationDocument | None:
        oid = _oid(doc_id)
        sources = sources_for(target)
        if required_state is not None:
            required = parse_state(required_state)
            if required not in sources:
                raise IllegalTransition(f"An operation cannot go from {required.value} to {target.value}.")
            sources = frozenset({required})
        doc = self._repo.transition({"_id": oid, **(extra_query or {})}, target, sources, set_fields, inc)
        if doc is None and required_state is None and extra_query is None:
            current = self.get(oid)  # raises OperationNotFound
            raise IllegalTransition(
                f"Operation {oid} is {current.run_state.value}; it cannot become {target.value}"
                + (" (finished operations are final: rerun it instead)." if current.is_terminal else ".")
            )
        return doc

    @staticmethod
    def _run_fields(progress: Any = None, run_link: str | None = None, log_path: str | None = None) -> dict:
        fields: dict[str, Any] = {}
        if progress is not None:
            fields["status"] = progress_status(progress)
        if run_link is not None:
            fields["run_link"] = run_link
        if log_path is not None:
            fields["log_path"] = log_path
        return fields

    def set_scheduled(self, doc_id: object, required_state: Any = None) -> DelegatedOperationDocument | None:
        """Back to scheduled (waiting for quota), releasing any pick-up.

        :param doc_id: the operation.
        :param required_state: move it only from this state (compare-and-set; None on mismatch).
        """
        return self._transition(doc_id, S.SCHEDULED, required_state, {"dispatch": None})

    def set_queued(self, doc_id: object, required_state: Any = None) -> DelegatedOperationDocument | None:
        """Admit: scheduled -> queued, or back to queued.

        :param doc_id: the operation.
        :param required_state: move it only from this state (compare-and-set; None on mismatch).
        """
        return self._transition(doc_id, S.QUEUED, required_state)

    def set_running(
        self,
        doc_id: object,
        progress: Any = None,
        run_link: str | None = None,
        log_path: str | None = None,
        required_state: Any = None,
        monitored: bool = False,
        claim_token: str | None = None,
    ) -> DelegatedOperationDocument | None:
        """Claim: queued -> running, counting the attempt. Only one caller can win it: the others get
        None, which is how two executors never run one operation.

        :param doc_id: the operation.
        :param progress: an initial progress report.
        :param run_link: where the run can be watched (e.g. the Airflow task instance).
        :param log_path: where its log is.
        :param required_state: claim only from this state (normally queued).
        :param monitored: True when an executor heartbeats it (so a stale heartbeat means it died).
        :param claim_token: the claimer's identity (``execution.claims``); later writes check it.
        """
        now = utcnow()
        fields = {
            **self._run_fields(progress, run_link, log_path),
            "monitored": monitored,
            "claim_token": claim_token or uuid.uuid4().hex,
            "heartbeat_at": now,
            "termination": None,
            "result": None,
        }
        return self._transition(doc_id, S.RUNNING, required_state, fields, inc={"attempt": 1})

    def set_completed(
        self,
        doc_id: object,
        result: Any = None,
        progress: Any = None,
        run_link: str | None = None,
        log_path: str | None = None,
        required_state: Any = None,
        claim_token: str | None = None,
        log_tail: tuple[str, int | None] | None = None,
    ) -> DelegatedOperationDocument | None:
        """running -> completed with the operator's result; None when the run is no longer this
        claimer's (a completion never overwrites a run marked failed meanwhile).

        :param doc_id: the operation.
        :param result: what the operator returned (JSON-like), or an ``ExecutionResult``.
        :param progress: a final progress report.
        :param run_link: where the run can be watched.
        :param log_path: where its log is.
        :param required_state: complete only from this state.
        :param claim_token: complete only while held under this claim.
        :param log_tail: the log's final (last lines, size in bytes), recorded in the same write.
        """
        wrapped = _result(result)
        fields = {**self._run_fields(progress, run_link, log_path), **_log_fields(log_tail)}
        fields["result"] = wrapped.to_json() if wrapped else None
        if wrapped is not None and wrapped.outputs_schema is not None:
            fields["metadata.outputs_schema"] = wrapped.outputs_schema
        extra = {"claim_token": claim_token} if claim_token else None
        return self._transition(doc_id, S.COMPLETED, required_state, fields, extra_query=extra)

    def set_failed(
        self,
        doc_id: object,
        result: Any = None,
        progress: Any = None,
        run_link: str | None = None,
        log_path: str | None = None,
        required_state: Any = None,
        update_pipeline: object = None,
        claim_token: str | None = None,
        heartbeat_at: datetime | None = None,
        log_tail: tuple[str, int | None] | None = None,
    ) -> DelegatedOperationDocument | None:
        """Mark failed. With ``update_pipeline=<parent id>`` the error is also recorded on the
        pipeline parent under ``pipeline_run_info.child_errors``. For the run's own executor; from
        outside the run use ``mark_failed`` (it checks the state and records the parent itself).

        :param doc_id: the operation.
        :param result: the error (``ExecutionResult`` with ``error``/``error_message``).
        :param progress: a final progress report.
        :param run_link: where the run can be watched.
        :param log_path: where its log is.
        :param required_state: fail it only from this state (compare-and-set; None on mismatch).
        :param update_pipeline: the pipeline parent to record the error on.
        :param claim_token: fail it only while held under this claim.
        :param heartbeat_at: fail it only if its last heartbeat is still this one (the reaper's
            check that its executor did not ping after it looked).
        :param log_tail: the log's final (last lines, size in bytes), recorded in the same write.
        """
        wrapped = _result(result)
        fields = {**self._run_fields(progress, run_link, log_path), **_log_fields(log_tail)}
        fields["result"] = wrapped.to_json() if wrapped else None
        doc = self._transition(doc_id, S.FAILED, required_state, fields, extra_query=_held(claim_token, heartbeat_at))
        if doc is not None and update_pipeline is not None:
            error = (wrapped.error if wrapped else None) or "failed"
            self._repo.add_child_error(_oid(update_pipeline), _oid(doc.id), error)
        return doc

    def requeue(
        self,
        doc_id: object,
        claim_token: str | None = None,
        keep_dispatch: bool = False,
        heartbeat_at: datetime | None = None,
    ) -> DelegatedOperationDocument | None:
        """running -> queued for another attempt (on_reset="rerun"); None if no longer running or
        claimed by someone else.

        :param doc_id: the operation.
        :param claim_token: requeue only while held under this claim.
        :param keep_dispatch: leave it with the orchestrator that runs it (an Airflow task retry
            claims it again); otherwise any dispatcher may pick it up.
        :param heartbeat_at: requeue it only if its last heartbeat is still this one (as
            ``set_failed``).
        """
        fields: dict[str, Any] = {"claim_token": None, "heartbeat_at": None, "termination": None}
        if not keep_dispatch:
            fields["dispatch"] = None
        return self._transition(doc_id, S.QUEUED, S.RUNNING, fields, extra_query=_held(claim_token, heartbeat_at))

    def terminate(
        self, doc_id: object, reason: str | None = None, requested_by: str | None = None
    ) -> DelegatedOperationDocument:
        """Stop an operation. Not yet running: it fails at once. Running: a termination request
        is recorded; the executor running it stops it at the next checkpoint (or kills it after a
        grace period) and marks it failed, so the operator can save partial work.

        :param doc_id: the operation.
        :param reason: why, kept in the result.
        :param requested_by: who asked, kept in the result.
        :raises IllegalTransition: it has already finished.
        """
        reason = reason or "terminated by request"
        who = f" by {requested_by}" if requested_by else ""
        message = f"terminated{who}: {reason}"
        request = {"requested_at": utcnow(), "requested_by": requested_by, "reason": reason}
        while True:  # each pass acts on the state it read; a concurrent transition means read again
            doc = self.get(doc_id)
            if doc.is_terminal:
                raise IllegalTransition(f"Operation {doc.id} already {doc.run_state.value}; nothing to terminate.")
            if doc.run_state is S.RUNNING:
                running = self._repo.update({"_id": doc.id, "run_state": S.RUNNING.value}, {"termination": request})
                if running is not None:
                    return running
            elif self.set_failed(
                doc.id, ExecutionResult(error=message, error_message=message), required_state=doc.run_state
            ):
                return self._set(doc.id, {"termination": request})

    def mark_failed(
        self,
        doc_id: object,
        reason: str,
        requested_by: str | None = None,
        *,
        required_state: ExecutionRunState | str | None = None,
        claim_token: str | None = None,
    ) -> DelegatedOperationDocument:
        """Fail an operation from outside its run (a person in the CLI or the Runs page, a failure
        callback). Unlike ``terminate`` it does not wait for the executor: the document is failed
        now, and a running executor notices at its next heartbeat and stops. A pipeline child's
        error is also recorded on its parent, whoever marks it failed.

        :param doc_id: the operation.
        :param reason: why, completing the recorded error "marked failed by <who> <reason>" (e.g.
            "from the CLI", "because the Airflow task ended without finishing it").
        :param requested_by: who asked, for the record.
        :param required_state: fail it only if it is still in this state (a caller that acts on a
            state it read); default: the state read here, so a concurrent transition is never
            overwritten.
        :param claim_token: fail it only if it is still held under this claim.
        :raises IllegalTransition: it is already finished, or it changed state meanwhile.
        """
        reason = _label(reason, "reason")
        doc = self.get(doc_id)
        if doc.is_terminal:
            raise IllegalTransition(f"Operation {doc.id} is already {doc.run_state.value}; there is nothing to fail.")
        who = f" by {requested_by}" if requested_by else ""
        message = f"marked failed{who} {reason}"
        failed = self.set_failed(
            doc.id,
            ExecutionResult(error=message, error_message=message),
            required_state=required_state or doc.run_state,
            claim_token=claim_token,
            update_pipeline=doc.parent_id,
        )
        if failed is None:
            current = self.get(doc.id)
            raise IllegalTransition(
                f"Operation {doc.id} changed meanwhile (it is {current.run_state.value}); nothing was changed."
            )
        return failed

    def admit_scheduled_operations(
        self, quota: int | None = None, delegation_target: str | None = None, routing: Routing | None = None
    ) -> list[DelegatedOperationDocument]:
        """Move the oldest scheduled ops to queued while queued + running stays under ``quota``
        (None: no limit). One admitter at a time per target, so concurrent admitters never
        overshoot; a caller that finds the lease taken admits nothing (the holder does the work).

        :param quota: most queued + running operations (None: no limit).
        :param delegation_target: admit only operations for this target.
        :param routing: admit (and count against the quota) only this deployment's operations;
            another orchestrator's scheduled operations are left alone (None: every operation).
        """
        if quota is not None and (isinstance(quota, bool) or not isinstance(quota, int) or quota < 0):
            raise InvalidQuery("quota must be a non-negative integer or None.")
        scope = scope_filter(delegation_target=delegation_target, routing=routing)
        admitted: list[DelegatedOperationDocument] = []
        if not self._repo.count(scheduled_filter(scope), limit=1):
            # Nothing scheduled (a dispatch round's usual case): one read instead of taking and
            # releasing the lease (two durable writes) and counting. One scheduled meanwhile is
            # admitted by the next round, which its insert starts.
            return admitted
        if quota is not None and self._repo.count(active_filter(delegation_target, routing), limit=quota) >= quota:
            # The quota is full (a busy round's usual case): nothing to admit until a run ends,
            # and its end starts the next round. Counted again under the lease before admitting.
            return admitted
        with Lease(self._repo.db, f"admission:{delegation_target or '*'}", uuid.uuid4().hex) as held:
            if not held:
                return admitted
            active = self._repo.count(active_filter(delegation_target, routing))
            while quota is None or active < quota:
                doc = self._repo.transition(
                    scope, S.QUEUED, {S.SCHEDULED}, {"dispatch": None}, sort=[("scheduled_at", 1), ("_id", 1)]
                )
                if doc is None:
                    break
                admitted.append(doc)
                active += 1
        return admitted

    def pick_up_queued_operations(
        self,
        picker: str,
        limit: int = 1,
        operator: str | None = None,
        delegation_target: str | None = None,
        dataset_name: str | None = None,
        routing: Routing | None = None,
    ) -> list[DelegatedOperationDocument]:
        """Mark up to ``limit`` queued operations (oldest first) as dispatched by ``picker``, so a
        dispatcher hands each to exactly one run. A pick-up that was never claimed expires after
        ``PICKUP_EXPIRY`` and the operation becomes pickable again.

        :param picker: the name the pick-up is recorded under.
        :param limit: most operations picked up.
        :param operator, delegation_target, dataset_name: narrow the pick-up to these.
        :param routing: pick up only this deployment's operations (``store.routing``): another
            target's, or an untargeted one whose operator it cannot run, is never touched
            (None: any operation).

        One write picks up the whole batch (read the oldest ``limit``, mark those still pickable
        with a token of this round, read back what carries it): a busy dispatcher's cost per
        operation is then its claim, not its pick-up. A concurrent picker may take some of the
        batch; each operation still goes to exactly one.

        :param picker: who picks up (``execution.claims.airflow_identity`` of the dispatcher's run).
        :param limit: most operations picked up.
        :param operator: only this operator's operations.
        :param delegation_target: only this target's operations.
        :param dataset_name: only operations on this dataset.
        """
        if limit < 1:
            return []
        now = utcnow()
        pickable = pickable_filter(scope_filter(operator, delegation_target, dataset_name, routing), now)
        order = [("queued_at", 1), ("_id", 1)]
        if limit == 1:
            doc = self._repo.update(pickable, {"dispatch": {"by": picker, "at": now}}, sort=order)
            return [doc] if doc is not None else []
        candidates = [doc.id for doc in self._repo.find(pickable, order, limit=limit)]
        if not candidates:
            return []
        round_token = uuid.uuid4().hex
        self._repo.update_many(
            combine(pickable, {"_id": {"$in": candidates}}),
            {"dispatch": {"by": picker, "at": now, "round": round_token}},
        )
        return self._repo.find({"_id": {"$in": candidates}, "dispatch.round": round_token}, order)

    def release_pick_up(self, doc_id: object, picker: str) -> bool:
        """Undo ``picker``'s pick-up of a still-queued operation (it could not hand it to a run),
        so the next dispatch round takes it at once instead of after ``PICKUP_EXPIRY``.

        :param doc_id: the operation.
        :param picker: who picked it up; someone else's pick-up is left alone.
        """
        query = {"_id": _oid(doc_id), "run_state": S.QUEUED.value, "dispatch.by": picker}
        return self._repo.update(query, {"dispatch": None}) is not None

    # -- other fields --------------------------------------------------------------------------
    def _set(self, doc_id: object, fields: Mapping[str, Any]) -> DelegatedOperationDocument:
        oid = _oid(doc_id)
        doc = self._repo.update({"_id": oid}, fields)
        if doc is None:
            raise OperationNotFound(oid)
        return doc

    def set_progress(self, doc_id: object, progress: Any, label: str | None = None) -> DelegatedOperationDocument:
        """``status`` only; ``updated_at`` is not touched (FiftyOne's rule: progress is not an update).

        :param doc_id: the operation.
        :param progress: a fraction in [0, 1] (or an ``ExecutionProgress``).
        :param label: what it is doing now.
        """
        return self._set(doc_id, {"status": progress_status(progress, label)})

    def set_pinned(self, doc_id: object, pinned: bool = True) -> DelegatedOperationDocument:
        """Pin (or unpin) a run, so it stays in the pinned panel of the Runs page.

        :param doc_id: the operation.
        :param pinned: True to pin, False to unpin.
        """
        return self._set(doc_id, {"pinned": bool(pinned)})

    def set_label(self, doc_id: object, label: str) -> DelegatedOperationDocument:
        """Rename a run (its label), so users can find it again.

        :param doc_id: the operation.
        :param label: the new name (non-empty, at most ``MAX_LABEL_LENGTH`` characters).
        """
        return self._set(doc_id, {"label": _label(label)})

    def set_log_upload_error(self, doc_id: object, log_upload_error: str | None) -> DelegatedOperationDocument:
        """Record why the run's log could not be stored, so the Run page says so instead of showing none.

        :param doc_id: the operation.
        :param log_upload_error: the error, or None to clear it.
        """
        return self._set(doc_id, {"log_upload_error": log_upload_error})

    def set_log_size(self, doc_id: object, log_size: int) -> DelegatedOperationDocument:
        """Record the size of the run's log, so readers know whether to show it or offer a download.

        :param doc_id: the operation.
        :param log_size: bytes (non-negative).
        """
        if isinstance(log_size, bool) or not isinstance(log_size, int) or log_size < 0:
            raise InvalidOperation("log_size must be a non-negative number of bytes.")
        return self._set(doc_id, {"log_size": log_size})

    def set_log_tail(self, doc_id: object, log_tail: str, log_size: int | None = None) -> DelegatedOperationDocument:
        """Keep the log's last lines on the document, so the Run page shows them live on any machine.

        :param doc_id: the operation.
        :param log_tail: the last lines.
        :param log_size: the whole log's size in bytes, when known.
        """
        return self._set(doc_id, _log_fields((log_tail, log_size)))

    def store_log(self, doc_id: object, data: bytes) -> None:
        """Keep an attempt's whole log in the database, for readers on other machines.

        :param doc_id: the operation.
        :param data: the attempt's log file (every attempt appends to one file, so this holds all).
        """
        OperationLogArchive(self._repo.db).put(str(_oid(doc_id)), data)

    def stored_log(self, doc_id: object) -> str | None:
        """The operation's whole log as the database holds it: its ``log_tail`` when that is the
        whole log (a short one, which the executor does not store again), else the copy
        ``store_log`` kept (None until an attempt has ended).

        :param doc_id: the operation.
        """
        doc = self.get(doc_id)
        if tail_is_whole_log(doc.log_tail, doc.log_size):
            return f"{doc.log_tail}\n"
        data = OperationLogArchive(self._repo.db).get(str(doc.id))
        return data.decode("utf-8", "replace") if data is not None else None

    def ping(self, doc_id: object, claim_token: str | None = None) -> DelegatedOperationDocument | None:
        """Heartbeat of a running op, so the reaper can tell a live run from a dead one. With
        ``claim_token``, only the current claimer's ping counts (None tells a stale executor that it
        lost the operation). The time is the database's when the write lands, not the caller's
        when it was sent: a ping held up while the replica set elects a new primary (or sent from
        a host whose clock is behind) still says "alive now" once it lands.

        :param doc_id: the operation.
        :param claim_token: the pinging executor's claim.
        """
        query: dict[str, Any] = {"_id": _oid(doc_id)}
        if claim_token:
            query.update(run_state=S.RUNNING.value, claim_token=claim_token)
        return self._repo.update(query, current_date=("updated_at", "heartbeat_at"))

    def archive_operation(self, doc_id: object) -> DelegatedOperationDocument:
        """Archive a finished run: hidden from listings unless asked for, kept for the record.

        :param doc_id: the operation (completed or failed).
        :raises IllegalTransition: it has not finished.
        """
        return self._set_archived(doc_id, True)

    def unarchive_operation(self, doc_id: object) -> DelegatedOperationDocument:
        """Show an archived run in listings again.

        :param doc_id: the operation (completed or failed).
        :raises IllegalTransition: it has not finished.
        """
        return self._set_archived(doc_id, False)

    def _set_archived(self, doc_id: object, archived: bool) -> DelegatedOperationDocument:
        doc = self.get(doc_id)
        if doc.run_state not in TERMINAL_STATES:
            raise IllegalTransition(
                f"Only completed or failed operations can be archived; {doc.id} is {doc.run_state.value}."
            )
        return self._set(doc.id, {"archived": archived})

    # -- deleting ------------------------------------------------------------------------------
    def delete_operation(self, doc_id: object) -> DelegatedOperationDocument:
        """Delete an operation that is not running (terminate it first): deleting a running one would
        leave its executor writing to nothing.

        :param doc_id: the operation.
        :raises IllegalTransition: it is running.
        """
        oid = _oid(doc_id)
        doc = self._repo.delete({"_id": oid, "run_state": {"$ne": S.RUNNING.value}})
        if doc is None:
            current = self.get(oid)
            raise IllegalTransition(f"Operation {current.id} is running; terminate it before deleting it.")
        OperationLogArchive(self._repo.db).delete([str(oid)])
        return doc

    def cleanup_operations(
        self,
        filters: Mapping[str, Any],
        existing_dataset_ids: list[ObjectId] | None = None,
        dry_run: bool = False,
    ) -> int:
        """Delete the operations matching ``filters`` that are not running; how many.

        :param filters: exact-match filters (``query.FILTER_FIELDS``); running operations are never
            deleted, whatever they say.
        :param existing_dataset_ids: when given, only orphans: operations that had a dataset
            which is not among these (an operation that never had a dataset is no orphan).
        :param dry_run: count what would be deleted, delete nothing.
        """
        never_running = {"run_state": {"$ne": S.RUNNING.value}}
        orphans = {}
        if existing_dataset_ids is not None:
            orphans = {"dataset_id": {"$ne": None, "$nin": list(existing_dataset_ids)}}
        query = combine(build_filter(filters), never_running, orphans)
        if dry_run:
            return self._repo.count(query)
        return self._delete_where(query)

    def delete_for_dataset(self, dataset_id: object) -> int:
        """Delete every non-running operation of a dataset (when the dataset goes); returns how many.

        :param dataset_id: the dataset.
        """
        return self._delete_where({"dataset_id": _oid(dataset_id), "run_state": {"$ne": S.RUNNING.value}})

    def _delete_where(self, query: Mapping[str, Any]) -> int:
        """Delete the matching operations and their stored logs; how many were deleted."""
        deleted, gone = self._repo.delete_many(query)
        OperationLogArchive(self._repo.db).delete([str(doc_id) for doc_id in gone])
        return deleted

    # -- execution (implemented by fiftyops_provider.execution) --------------------------------
    def execute_operation(self, operation: Any, **kwargs: Any) -> ExecutionResult | None:
        """Claim and run one operation in this process (FiftyOne's API; see ``execution.entrypoints``).

        :param operation: the operation (document or id).
        :param kwargs: ``log``, ``run_link``, ``log_path``, ``monitor``, ``check_interval_seconds`` and
            executor options, as ``execution.execute_operation`` takes them.
        """
        from fiftyops_provider.execution import execute_operation

        return execute_operation(self, operation, **kwargs)

    def execute_queued_operations(self, **kwargs: Any) -> list[ExecutionResult]:
        """Run the queued operations one after another in this process (FiftyOne's API; see
        ``execution.entrypoints``).

        :param kwargs: ``operator``, ``delegation_target``, ``dataset_name``, ``limit``, ``log``,
            ``monitor`` and executor options, as ``execution.execute_queued_operations`` takes them.
        """
        from fiftyops_provider.execution import execute_queued_operations

        return execute_queued_operations(self, **kwargs)


def _log_fields(log_tail: tuple[str, int | None] | None) -> dict[str, Any]:
    """The document fields of a log's (last lines, size in bytes, when known)."""
    if log_tail is None:
        return {}
    tail, size = log_tail
    return {"log_tail": tail} if size is None else {"log_tail": tail, "log_size": size}
