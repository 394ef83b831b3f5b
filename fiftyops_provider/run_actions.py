"""Every read and change of a run, as one user, with ``access.run_rules`` applied.

The SDK and ``fiftyops delegated`` call it in direct mode, with the user ``FIFTYOPS_USER`` names;
the FiftyOps API in Airflow's api-server calls it with the user Airflow's auth manager
authenticated. So a run command checks the same rules whichever way it arrives. ``RemoteRuns``
(``fiftyops_provider.remote``) has the same methods over HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bson import ObjectId
from pymongo.database import Database

from fiftyops_provider.access import run_rules as rules
from fiftyops_provider.access.users import User, UserStore
from fiftyops_provider.datasets.catalog import list_datasets, load_dataset
from fiftyops_provider.plugins.registry import PluginRegistry
from fiftyops_provider.store import (
    SORT_PRESETS,
    WAITING_STATES,
    DelegatedOperationDocument,
    DelegatedOperationPagingParams,
    DelegatedOperationService,
    InvalidQuery,
    OperationPage,
)
from fiftyops_provider.store.query import LiteralSearch


def visible_queue_position(
    service: DelegatedOperationService, user: User, doc: DelegatedOperationDocument
) -> int | None:
    """Where a waiting run stands in line (1 = next) among the runs ``user`` may see, so that no
    page or client learns how many runs other people have waiting; None once it is not waiting.

    :param service: the store.
    :param user: who asks.
    :param doc: the run, already read and checked visible by the caller.
    """
    if doc.run_state not in WAITING_STATES:
        return None
    return service.get_queue_position(doc.id, **rules.queue_scope(user))


def read_log(doc: DelegatedOperationDocument, stored_log: Callable[[], str | None]) -> tuple[str, bool]:
    """(text, complete): the log file when this machine can read it; else the log the executor
    stored in the database at the end of its attempt (the run was on another machine), unless
    the run is still going on: then the live tail kept on the run.

    :param stored_log: reads the stored log (``DelegatedOperationService.stored_log``).
    """
    if doc.log_path and Path(doc.log_path).is_file():
        return Path(doc.log_path).read_text(errors="replace"), True
    if doc.is_terminal:
        stored = stored_log()
        if stored is not None:
            return stored, True
    return doc.log_tail or "", False


@dataclass
class RunQuery:
    """What a run listing asks for (the CLI's ``delegated list`` flags; remote mode sends it as
    JSON).

    :param operator: only runs of this operator URI.
    :param dataset: only runs on the dataset of this name.
    :param run_state: one state or a list of them.
    :param queued_by: only runs this user queued.
    :param pinned: only pinned runs when True.
    :param match: case-sensitive text in the operator URI.
    :param match_labels: search ``match`` in labels too.
    :param include_archived: archived runs too.
    :param sort: one of ``SORT_PRESETS``.
    :param skip: runs to skip.
    :param limit: page size.
    """

    operator: str | None = None
    dataset: str | None = None
    run_state: list[str] | str | None = None
    queued_by: str | None = None
    pinned: bool | None = None
    match: str | None = None
    match_labels: bool = False
    include_archived: bool = False
    sort: str = "recent"
    skip: int = 0
    limit: int = 20

    @classmethod
    def from_json(cls, text: str) -> RunQuery:
        """The query remote mode sent; ``InvalidQuery`` for anything else."""
        try:
            return cls(**json.loads(text))
        except (ValueError, TypeError) as exc:
            raise InvalidQuery(f"Not a run query: {exc}.") from None

    def search(self) -> LiteralSearch | None:
        if not self.match:
            return None
        return LiteralSearch(self.match, ("operator", "label") if self.match_labels else ("operator",))


class RunActions:
    """The runs ``user`` may see, and the changes they may make, against one database."""

    def __init__(
        self,
        db: Database,
        user: User,
        service: DelegatedOperationService | None = None,
        registry: PluginRegistry | None = None,
    ) -> None:
        """:param db: the FiftyOps database.
        :param user: who is asking (``access.run_rules.acting_user`` for the CLI and SDK).
        :param service: the operation store of ``db`` (built when not given).
        :param registry: the plugin registry of ``db`` (built when not given)."""
        self.db = db
        self.user = user
        self.service = service or DelegatedOperationService(db)
        self.registry = registry or PluginRegistry(db)

    @classmethod
    def acting_as(cls, db: Database, name: str | None) -> RunActions:
        """Actions for the user called ``name`` (refused when there is none).

        :param db: the FiftyOps database.
        :param name: the acting user's name, usually ``FIFTYOPS_USER``."""
        return cls(db, rules.acting_user(UserStore(db), name))

    # -- reading -------------------------------------------------------------------------------
    def page(self, query: RunQuery | None = None) -> OperationPage:
        """A page of the runs this user may see. A non-admin who names no dataset and no user
        sees their own runs; someone else's need VIEW on the named dataset.

        :param query: what to list (default: the first page of the most recent)."""
        query = query or RunQuery()
        if query.sort not in SORT_PRESETS:
            raise InvalidQuery(f"Unknown sort {query.sort!r}; use one of: {', '.join(SORT_PRESETS)}.")
        sort_by, direction = SORT_PRESETS[query.sort]
        filters: dict[str, Any] = {"operator": query.operator, "run_state": query.run_state, "pinned": query.pinned}
        if rules.is_admin(self.user):
            filters.update(dataset_name=query.dataset, queued_by=query.queued_by)
        else:
            dataset_id = load_dataset(self.db, None, query.dataset).id if query.dataset else None
            filters.update(rules.listing_filters(self.user, query.queued_by, dataset_id))
        paging = DelegatedOperationPagingParams(sort_by, direction, query.skip, query.limit)
        return self.service.page_operations(
            paging=paging, search=query.search(), include_archived=query.include_archived, **filters
        )

    def get(self, run_id: object) -> DelegatedOperationDocument:
        """The run, if this user may see it.

        :param run_id: the run's id (24 hex characters)."""
        doc = self.service.get(run_id)
        rules.require_view(self.user, doc)
        return doc

    def queue_position(self, run_id: object) -> int | None:
        """Where a scheduled or queued run stands in line (1 = next) among the runs this user may
        see (others' waiting runs are not revealed), else None.

        :param run_id: the run's id."""
        return visible_queue_position(self.service, self.user, self.get(run_id))

    def log(self, run_id: object) -> tuple[str, bool]:
        """(text, complete): the run's log file when this machine can read it, else the log
        stored in the database when its attempt ended, else (running) the tail kept on the run
        (``complete`` False).

        :param run_id: the run's id."""
        doc = self.get(run_id)
        return read_log(doc, lambda: self.service.stored_log(doc.id))

    # -- changing ------------------------------------------------------------------------------
    def _changeable(self, run_id: object) -> DelegatedOperationDocument:
        doc = self.get(run_id)
        rules.require_change(self.user, doc)
        return doc

    def terminate(self, run_id: object, reason: str | None = None) -> DelegatedOperationDocument:
        """Stop the run (needs one's own run, or EDIT on its dataset).

        :param run_id: the run's id.
        :param reason: recorded on the run."""
        doc = self._changeable(run_id)
        return self.service.terminate(doc.id, reason, self.user.name)

    def mark_failed(self, run_id: object, where: str = "the CLI") -> DelegatedOperationDocument:
        """Fail the run in the store now. A running task is told through the store and stops at
        its next heartbeat; if it cannot be reached, external work may go on.

        :param run_id: the run's id.
        :param where: where the request came from, for the recorded error."""
        doc = self._changeable(run_id)
        return self.service.mark_failed(doc.id, f"from {where}", self.user.name, required_state=doc.run_state)

    def rerun(self, run_id: object) -> DelegatedOperationDocument:
        """A new run with the same inputs, queued by this user, who must be allowed to queue it.

        :param run_id: the run to repeat."""
        doc = self.get(run_id)
        rules.require_rerun(self.registry, self.user, doc)
        return self.service.rerun_operation(doc.id, queued_by=self.user.name)

    def set_label(self, run_id: object, label: str) -> DelegatedOperationDocument:
        """Rename the run.

        :param run_id: the run's id.
        :param label: its new label."""
        return self.service.set_label(self._changeable(run_id).id, label)

    def set_pinned(self, run_id: object, pinned: bool = True) -> DelegatedOperationDocument:
        """Pin or unpin the run.

        :param run_id: the run's id.
        :param pinned: pin when True, unpin when False."""
        return self.service.set_pinned(self._changeable(run_id).id, pinned)

    def delete(self, run_id: object) -> DelegatedOperationDocument:
        """Delete the run (not while it runs).

        :param run_id: the run's id."""
        return self.service.delete_operation(self._changeable(run_id).id)

    def set_archived(self, run_id: object, archived: bool = True) -> DelegatedOperationDocument:
        """Archive (or unarchive) a finished run.

        :param run_id: the run's id.
        :param archived: archive when True, unarchive when False."""
        doc = self._changeable(run_id)
        if archived:
            return self.service.archive_operation(doc.id)
        return self.service.unarchive_operation(doc.id)

    def cleanup(
        self,
        operator: str | None = None,
        dataset: str | None = None,
        run_state: str | None = None,
        orphan: bool = False,
        dry_run: bool = False,
    ) -> int:
        """Delete matching runs that are not running; how many (with ``dry_run``: would be).
        Admins reach every run, others their own, or a dataset's runs with EDIT on it.

        :param operator: only runs of this operator.
        :param dataset: only runs on the dataset of this name.
        :param run_state: only runs in this state.
        :param orphan: only runs whose dataset no longer exists.
        :param dry_run: count, delete nothing.
        """
        if not (operator or dataset or run_state or orphan):
            raise InvalidQuery("No cleanup options given: choose an operator, a dataset, a state and/or orphans.")
        dataset_id = None
        if dataset and not rules.is_admin(self.user):
            dataset_id = load_dataset(self.db, None, dataset).id
        filters = {
            "operator": operator,
            "dataset_name": dataset,
            "run_state": run_state,
            **rules.cleanup_filters(self.user, dataset_id),
        }
        existing = [ObjectId(d.id) for d in list_datasets(self.db)] if orphan else None
        return self.service.cleanup_operations(filters, existing, dry_run=dry_run)

    def queue(
        self,
        operator: str,
        dataset: str | None = None,
        params: Mapping[str, Any] | None = None,
        label: str | None = None,
        delegation_target: str | None = None,
    ) -> DelegatedOperationDocument:
        """Queue ``operator`` as this user: ``delegate()`` with every check it makes.

        :param operator: the operator URI.
        :param dataset: the dataset's name.
        :param params: the operator's inputs.
        :param label: the run's label (default: the operator's run name).
        :param delegation_target: route the run to this target."""
        from fiftyops_provider.plugins.delegate import delegate

        return delegate(operator, dataset, params, self.user.name, label, delegation_target, db=self.db)
