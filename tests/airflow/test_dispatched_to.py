"""Which DAG run may adopt an operation: the one the dispatcher named after it (no Airflow server
needed; real mongod)."""

from __future__ import annotations

from fiftyops_provider.dag_factory.naming import dispatch_run_id
from fiftyops_provider.operators.execute_operation import dispatched_to


def test_only_the_run_the_dispatcher_named_adopts_an_operation(service):
    doc = service.queue_operation("@o/p/op", initial_state="queued")
    named = dispatch_run_id(str(doc.id), 0)
    assert not dispatched_to(named)(doc)  # waiting, not picked up: no run may take it
    [picked] = service.pick_up_queued_operations("dispatcher")
    assert dispatched_to(named)(picked)
    for other in ("manual__2026-12-02T12:00:00+00:00", dispatch_run_id(str(doc.id), 1), named + "x"):
        assert not dispatched_to(other)(picked)
    service.set_running(doc.id, claim_token="airflow:t#try1")
    retried = service.requeue(doc.id, claim_token="airflow:t#try1", keep_dispatch=True)  # Airflow's retry next
    assert retried.attempt == 1 and dispatched_to(named)(retried)
