"""Routing in a database shared with FiftyOne or another orchestrator: FiftyOps takes only its own
operations (sent to one of its delegation targets, or untargeted with an operator it can run).
Everyone else's operations are never picked up, admitted, claimed or failed: byte for byte
untouched."""

from __future__ import annotations

import pytest

from fiftyops_provider.execution.dispatch_round import dispatch_round
from fiftyops_provider.store import ExecutionRunState as S
from fiftyops_provider.store.routing import Routing, parse_delegation_targets

ROUTING = Routing.of("fiftyops, gpu", {"@o/p/known"})


def raw(db, doc_id):
    return db.delegated_ops.find_one({"_id": doc_id})


def queue_mix(service, initial_state="queued"):
    """One operation of each kind, by name."""
    ops = {
        "sent_here": ("@o/p/known", "fiftyops"),
        "sent_to_second_target": ("@o/p/known", "gpu"),
        "untargeted_runnable": ("@o/p/known", None),
        "sent_here_unrunnable": ("@o/p/unknown", "fiftyops"),
        "other_target": ("@o/p/known", "someone-else"),
        "untargeted_unrunnable": ("@voxel51/operators/clear_sample_field", None),
    }
    return {
        name: service.queue_operation(op, delegation_target=target, initial_state=initial_state)
        for name, (op, target) in ops.items()
    }


def test_a_dispatch_round_takes_only_this_deployments_operations(service, db):
    ops = queue_mix(service)
    before = {name: raw(db, doc.id) for name, doc in ops.items()}

    picked = dispatch_round(service, "d1", limit=10, quota=None, routing=ROUTING, reap=False)

    assert {doc.id for doc in picked} == {
        ops[name].id for name in ("sent_here", "sent_to_second_target", "untargeted_runnable")
    }
    failed = service.get(ops["sent_here_unrunnable"].id)
    assert failed.run_state is S.FAILED
    assert "No runner for operator @o/p/unknown" in failed.result.error_message
    for name in ("other_target", "untargeted_unrunnable"):
        assert raw(db, ops[name].id) == before[name]  # never picked, claimed or failed
    assert dispatch_round(service, "d2", limit=10, quota=None, routing=ROUTING, reap=False) == []


def test_admission_leaves_other_peoples_scheduled_operations_alone(service, db):
    ops = queue_mix(service, initial_state="scheduled")
    before = {name: raw(db, doc.id) for name, doc in ops.items()}

    admitted = service.admit_scheduled_operations(quota=None, routing=ROUTING)

    assert {doc.id for doc in admitted} == {
        ops[name].id for name in ("sent_here", "sent_to_second_target", "untargeted_runnable", "sent_here_unrunnable")
    }
    for name in ("other_target", "untargeted_unrunnable"):
        assert raw(db, ops[name].id) == before[name]


def test_other_peoples_operations_do_not_count_against_the_quota(service):
    for _ in range(3):
        service.queue_operation("@o/p/known", delegation_target="someone-else", initial_state="queued")
    mine = service.queue_operation("@o/p/known", delegation_target="fiftyops")
    assert [d.id for d in service.admit_scheduled_operations(quota=1, routing=ROUTING)] == [mine.id]


def test_without_routing_every_operation_is_taken(service):
    """Direct service calls (FiftyOne's API) keep their meaning: no routing, no narrowing."""
    ops = queue_mix(service)
    assert len(service.pick_up_queued_operations("d", limit=10)) == len(ops)


def test_delegation_targets_setting():
    assert parse_delegation_targets(None) == ("fiftyops",)
    assert parse_delegation_targets("  ") == ("fiftyops",)
    assert parse_delegation_targets("b, a,,b") == ("b", "a")
    with pytest.raises(ValueError, match="at least one target"):
        parse_delegation_targets(", ,")
