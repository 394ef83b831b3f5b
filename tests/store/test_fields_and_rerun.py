"""Pin, label, logs, archive, delete, rerun, queue position, admission and pick-up."""

from __future__ import annotations

import pytest

from fiftyops_provider.store import ExecutionRunState as S
from fiftyops_provider.store import IllegalTransition, InvalidOperation, NotRerunnable


def _finished(service, **kwargs):
    doc = service.queue_operation("@org/p/op", initial_state="queued", **kwargs)
    service.set_running(doc.id)
    return service.set_completed(doc.id, result={"ok": True})


def test_pin_label_and_log_fields(service):
    doc = service.queue_operation("@org/p/op")
    assert service.set_pinned(doc.id).pinned is True
    assert service.set_pinned(doc.id, False).pinned is False
    assert service.set_label(doc.id, "Nightly export").label == "Nightly export"
    assert service.set_log_size(doc.id, 1234).log_size == 1234
    assert service.set_log_upload_error(doc.id, "bucket gone").log_upload_error == "bucket gone"
    assert service.set_log_tail(doc.id, "last line", 99).log_tail == "last line"


def test_progress_is_validated_and_does_not_touch_updated_at(service):
    doc = service.queue_operation("@org/p/op")
    out = service.set_progress(doc.id, 0.5, "half")
    assert (out.status.progress, out.status.label) == (0.5, "half")
    assert out.updated_at == doc.updated_at
    for bad in (1.5, -0.1, "half", True):
        with pytest.raises(InvalidOperation):
            service.set_progress(doc.id, bad)
    with pytest.raises(InvalidOperation):
        service.set_progress(doc.id, None)


def test_archive_only_finished_and_hidden_from_default_listing(service):
    running = service.queue_operation("@org/p/op", initial_state="queued")
    with pytest.raises(IllegalTransition, match="Only completed or failed"):
        service.archive_operation(running.id)
    done = _finished(service)
    service.archive_operation(done.id)
    listed = {d.id for d in service.list_operations()}
    assert done.id not in listed and running.id in listed
    assert done.id in {d.id for d in service.list_operations(include_archived=True)}
    service.unarchive_operation(done.id)
    assert done.id in {d.id for d in service.list_operations()}


def test_delete_refuses_running(service):
    doc = service.queue_operation("@org/p/op", initial_state="queued")
    service.set_running(doc.id)
    with pytest.raises(IllegalTransition, match="terminate it"):
        service.delete_operation(doc.id)
    service.set_failed(doc.id)
    assert service.delete_operation(doc.id).id == doc.id
    assert service.count() == 0


def test_delete_for_dataset(service):
    ds = "0123456789abcdef01234567"
    for _ in range(3):
        service.queue_operation("@org/p/op", context={"request_params": {"dataset_id": ds}})
    keep = service.queue_operation("@org/p/op")
    assert service.delete_for_dataset(ds) == 3
    assert [d.id for d in service.list_operations()] == [keep.id]


def test_rerun_creates_a_new_document_and_keeps_the_original(service):
    done = _finished(service, label="Export", queued_by="alice", context={"request_params": {"params": {"k": 2}}})
    again = service.rerun_operation(done.id)
    assert again.id != done.id and again.rerun_of == done.id
    assert (again.operator, again.label, again.params, again.queued_by) == (done.operator, "Export", {"k": 2}, "alice")
    assert again.run_state is S.SCHEDULED and again.attempt == 0 and again.result is None
    assert service.get(done.id).run_state is S.COMPLETED


def test_rerun_refusals(service):
    fixed = _finished(service, rerunnable=False)
    with pytest.raises(NotRerunnable, match="not rerunnable"):
        service.rerun_operation(fixed.id)
    parent = service.queue_operation("@org/p/pipe")
    child = service.queue_operation("@org/p/a", parent_id=parent.id)
    with pytest.raises(NotRerunnable, match="child"):
        service.rerun_operation(child.id)
    assert service.count() == 3


def test_queue_position(service):
    docs = [service.queue_operation("@org/p/op") for _ in range(4)]
    assert [service.get_queue_position(d.id) for d in docs] == [1, 2, 3, 4]
    service.admit_scheduled_operations(quota=1)
    assert service.get_queue_position(docs[0].id) == 1  # first in the claim queue now
    assert service.get_queue_position(docs[1].id) == 1  # first of the remaining scheduled
    service.set_running(docs[0].id)
    assert service.get_queue_position(docs[0].id) is None


def test_admission_respects_the_quota_and_takes_oldest_first(service):
    docs = [service.queue_operation("@org/p/op") for _ in range(5)]
    admitted = service.admit_scheduled_operations(quota=2)
    assert [d.id for d in admitted] == [docs[0].id, docs[1].id]
    assert service.admit_scheduled_operations(quota=2) == []
    service.set_running(docs[0].id)
    service.set_completed(docs[0].id)
    assert [d.id for d in service.admit_scheduled_operations(quota=2)] == [docs[2].id]


def test_a_round_with_the_quota_full_writes_nothing(service, db):
    """Busy dispatchers run a round after every change; with no room under the quota, a round
    must not cost the replica set the admission lease's two durable writes."""
    for _ in range(3):
        service.queue_operation("@org/p/op")
    service.admit_scheduled_operations(quota=2)
    oplog = db.client.local["oplog.rs"]
    written = oplog.count_documents({"ns": {"$regex": f"^{db.name}\\."}})

    assert service.admit_scheduled_operations(quota=2) == []
    assert oplog.count_documents({"ns": {"$regex": f"^{db.name}\\."}}) == written


def test_admission_is_per_delegation_target(service):
    service.queue_operation("@org/p/op", delegation_target="gpu")
    service.queue_operation("@org/p/op", delegation_target="cpu")
    admitted = service.admit_scheduled_operations(quota=5, delegation_target="gpu")
    assert [d.delegation_target for d in admitted] == ["gpu"]


def test_pick_up_hands_each_queued_operation_to_one_dispatcher(service):
    docs = [service.queue_operation("@org/p/op", initial_state="queued") for _ in range(3)]
    first = service.pick_up_queued_operations("dispatcher-a", limit=2)
    second = service.pick_up_queued_operations("dispatcher-b", limit=5)
    assert [d.id for d in first] == [docs[0].id, docs[1].id]
    assert [d.id for d in second] == [docs[2].id]
    assert service.pick_up_queued_operations("dispatcher-c", limit=5) == []


def test_requeue_without_keep_dispatch_makes_it_pickable_again(service):
    doc = service.queue_operation("@org/p/op", initial_state="queued")
    service.pick_up_queued_operations("a")
    claim = service.set_running(doc.id)
    service.requeue(doc.id, claim.claim_token)
    assert [d.id for d in service.pick_up_queued_operations("b")] == [doc.id]
