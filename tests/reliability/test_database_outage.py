"""MongoDB stops for ~5 s in the middle of a run and comes back: the run completes, no transition
is lost, and the executor rides it out instead of crashing."""

from __future__ import annotations

import time

from pymongo import MongoClient
from sample_operators import FAST, uri

from fiftyops_provider.execution import Executor, OutcomeState
from fiftyops_provider.stacks.embedded_mongo import EmbeddedMongo, free_port
from fiftyops_provider.store import DelegatedOperationService
from fiftyops_provider.store import ExecutionRunState as S


def test_a_run_survives_a_mongod_restart(tmp_path, background, monkeypatch):
    server = EmbeddedMongo(dbpath=tmp_path / "db", port=free_port())
    server.start()
    client = MongoClient(server.uri, serverSelectionTimeoutMS=30_000)
    try:
        monkeypatch.setenv("FIFTYOPS_DATABASE_URI", server.uri)
        service = DelegatedOperationService(client.outage)
        doc = service.queue_operation(
            uri("sleeper"),
            initial_state="queued",
            queued_by="alice",
            context={"request_params": {"dataset_name": "ds", "params": {"steps": 120, "step": 0.1}}},
        )
        executor = Executor(service, database_uri=server.uri, **FAST)
        run = background(executor.run, doc.id)
        deadline = time.monotonic() + 20
        while service.get(doc.id).run_state is not S.RUNNING:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(1)
        server.stop()
        time.sleep(5)
        server.start()
        outcome = run.result(timeout=120)
        assert outcome.state is OutcomeState.COMPLETED, outcome
        final = service.get(doc.id)
        assert final.run_state is S.COMPLETED and final.attempt == 1 and final.result.result == {"steps": 120}
    finally:
        client.close()
        server.stop()
