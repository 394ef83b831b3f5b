"""A dispatch round: admit within quota, pick up oldest first, fail operations nobody can run."""

from __future__ import annotations

from fiftyops_provider.execution.dispatch_round import dispatch_round
from fiftyops_provider.execution.policy import ResetPolicy, apply_reset_policy
from fiftyops_provider.store import ExecutionRunState as S
from fiftyops_provider.store.routing import Routing


def test_round_admits_within_quota_and_picks_oldest_first(service):
    docs = [service.queue_operation("@o/p/op") for _ in range(4)]
    picked = dispatch_round(service, "d1", limit=10, quota=2, reap=False)
    assert [d.id for d in picked] == [docs[0].id, docs[1].id]
    assert service.get(docs[2].id).run_state is S.SCHEDULED
    assert dispatch_round(service, "d2", limit=10, quota=2, reap=False) == []  # already picked up


def test_operations_sent_here_without_a_runner_are_failed_with_a_clear_message(service):
    known = service.queue_operation("@o/p/known", delegation_target="fiftyops", initial_state="queued")
    unknown = service.queue_operation("@o/p/removed", delegation_target="fiftyops", initial_state="queued")
    routing = Routing.of("fiftyops", {"@o/p/known"})
    picked = dispatch_round(service, "d1", limit=10, quota=None, routing=routing, reap=False)
    assert [d.id for d in picked] == [known.id]
    failed = service.get(unknown.id)
    assert failed.run_state is S.FAILED and "No runner for operator @o/p/removed" in failed.result.error_message


def test_requeue_keeps_the_dispatch_only_when_asked(service):
    for keep, expect_pickable in ((True, False), (False, True)):
        doc = service.queue_operation("@o/p/op", initial_state="queued")
        service.pick_up_queued_operations("airflow-run", limit=1)
        claimed = service.set_running(doc.id, claim_token="t")
        apply_reset_policy(service, claimed, "t", ResetPolicy("rerun", 3), "timed out", keep_dispatch=keep)
        assert service.get(doc.id).run_state is S.QUEUED
        assert bool(service.pick_up_queued_operations("other", limit=1)) is expect_pickable
