"""Listing, paging, sorting, searching and filtering, on 12k documents, served by indexes."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from bson import ObjectId

from fiftyops_provider.store import (
    DelegatedOperationPagingParams,
    DelegatedOperationService,
)
from fiftyops_provider.store.documents import DelegatedOperationDocument, utcnow
from fiftyops_provider.store.query import SORT_PRESETS, build_filter, build_search, combine
from fiftyops_provider.store.service import PAGE_COUNT_CAP

N = 12_000
STATES = ["scheduled", "queued", "running", "completed", "failed"]
OPERATORS = ["@fiftyops/utils/count", "@fiftyops/io/export", "@fiftyops/utils/sleep", "@acme/train/fit"]
USERS = ["alice", "bob", "carol"]
DATASETS = ["quickstart", "cifar", "coco"]


@pytest.fixture(scope="module")
def big(mongo_client):
    """12k documents inserted in bulk (module-scoped: built once, read by every test here)."""
    db = mongo_client[f"t_listing_{ObjectId()}"]
    service = DelegatedOperationService(db)  # its indexes exist before the bulk insert
    rng = random.Random(7)
    base = utcnow()
    docs = []
    for i in range(N):
        state = rng.choice(STATES)
        doc = DelegatedOperationDocument(
            operator=rng.choice(OPERATORS),
            label=f"run {i}",
            run_state=state,
            context={"request_params": {"dataset_name": rng.choice(DATASETS), "params": {}}},
            queued_by=rng.choice(USERS),
            pinned=rng.random() < 0.01,
            updated_at=base + timedelta(seconds=rng.randint(0, 10_000)),
            scheduled_at=base + timedelta(seconds=i),
            archived=rng.random() < 0.05,
        )
        docs.append(doc.to_pymongo())
    db.delegated_ops.insert_many(docs)
    yield service, db
    mongo_client.drop_database(db.name)


def _plan_stages(plan: dict) -> list[str]:
    stages = []
    stack = [plan]
    while stack:
        node = stack.pop()
        stages.append(node.get("stage"))
        stack.extend(node.get("inputStages", []) + ([node["inputStage"]] if "inputStage" in node else []))
    return stages


RUNS_PAGE_QUERIES = [
    {},
    {"run_state": ["running", "queued"]},
    {"run_state": "failed"},
    {"queued_by": "alice"},
    {"dataset_name": "cifar"},
    {"pinned": True},
    {"queued_by": "bob", "run_state": ["completed", "failed"]},
    {"operator": "@fiftyops/io/export"},
]


@pytest.mark.parametrize("filters", RUNS_PAGE_QUERIES)
@pytest.mark.parametrize("preset", sorted(SORT_PRESETS))
def test_every_runs_page_query_uses_an_index(big, filters, preset):
    _service, db = big
    sort_by, direction = SORT_PRESETS[preset]
    paging = DelegatedOperationPagingParams(sort_by=sort_by, sort_direction=direction, limit=20)
    query = combine(build_filter(filters, include_archived=False))
    plan = db.delegated_ops.find(query).sort(paging.mongo_sort()).limit(20).explain()["queryPlanner"]["winningPlan"]
    assert "COLLSCAN" not in _plan_stages(plan), plan


def test_search_query_uses_an_index(big):
    _, db = big
    query = combine(build_filter({}, include_archived=False), build_search("utils"))
    plan = db.delegated_ops.find(query).sort([("_id", -1)]).limit(20).explain()["queryPlanner"]["winningPlan"]
    assert "COLLSCAN" not in _plan_stages(plan)


def test_paging_walks_every_match_once_in_order(big):
    service, _ = big
    seen = []
    skip = 0
    while True:
        page = service.page_operations(paging={"skip": skip, "limit": 1000}, run_state="failed", include_archived=True)
        seen.extend(d.id for d in page.items)
        skip += 1000
        if skip >= page.total:
            break
    assert len(seen) == len(set(seen)) == page.total == service.count({"run_state": "failed"})
    assert seen == sorted(seen, reverse=True)  # most recent (by _id) first


def test_default_listing_is_most_recent_first_and_hides_archived(big):
    service, _ = big
    page = service.page_operations()
    assert len(page.items) == 10
    assert [d.id for d in page.items] == sorted((d.id for d in page.items), reverse=True)
    assert not any(d.archived for d in page.items)
    assert service.count({"archived": False}) > PAGE_COUNT_CAP
    assert (page.total, page.total_is_exact) == (PAGE_COUNT_CAP, False)  # shown as "10000+"


def test_page_totals_below_the_cap_are_exact(big):
    service, _ = big
    page = service.page_operations(run_state="running", include_archived=True)
    assert page.total_is_exact and page.total == service.count({"run_state": "running"})


def test_sort_by_updated_and_operator(big):
    service, _ = big
    updated = service.list_operations(paging={"sort_by": "updated_at", "sort_direction": -1, "limit": 50})
    assert [d.updated_at for d in updated] == sorted((d.updated_at for d in updated), reverse=True)
    by_op = service.list_operations(paging={"sort_by": "operator", "sort_direction": 1, "limit": 1000})
    assert [d.operator for d in by_op] == sorted(d.operator for d in by_op)


def test_filters_combine(big):
    service, _ = big
    docs = service.list_operations(run_state=["queued", "running"], dataset_name="coco", queued_by="carol")
    assert docs and all(
        d.run_state in ("queued", "running") and d.dataset_name == "coco" and d.queued_by == "carol" for d in docs
    )
    assert service.count({"dataset_name": "coco", "user": "carol"}) >= len(docs)


def test_search_is_case_sensitive_over_operator_and_optionally_label(big):
    service, _ = big
    hits = service.list_operations(search="acme/train", paging={"limit": 1000})
    assert hits and all("acme/train" in d.operator for d in hits)
    assert service.list_operations(search="ACME") == []
    by_label = service.list_operations(search={"^run 1$": ["label"]}, include_archived=True)
    assert [d.label for d in by_label] == ["run 1"]
    literal = service.list_operations(search=".*")
    assert literal == []  # a plain string is a literal, not a regex
