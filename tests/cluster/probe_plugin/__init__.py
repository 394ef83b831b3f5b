"""@fiftyops-tests/probe: each run records itself in ``cluster_probe_runs`` (operation, worker
address, worker home, plugin version), prints marker lines, then sleeps ``seconds`` with a
termination checkpoint every half second. The tests count these records: a run executed twice
leaves two."""

import os
import time

from pymongo import MongoClient

from fiftyops_provider.plugins import Inputs, Operator, OperatorConfig

VERSION = "1"
RUNS = "cluster_probe_runs"


def _record(ctx):
    # The store's URI is never in an operator's environment: the test hands the probe its records'
    # database as parameters.
    client = MongoClient(ctx.params["records_uri"])
    try:
        run = {
            "operation_id": ctx.operation_id,
            "worker": os.environ.get("FIFTYOPS_CLUSTER_HOSTNAME"),
            "home": os.environ.get("FIFTYOPS_HOME"),
            "version": VERSION,
            "pid": os.getpid(),
            "started": time.time(),
        }
        client[ctx.params["records_db"]][RUNS].insert_one(dict(run))
        return run
    finally:
        client.close()


class Probe(Operator):
    queue = None

    @property
    def config(self):
        return OperatorConfig(
            name="probe_gpu" if self.queue else "probe",
            label="Probe",
            allow_delegated_execution=True,
            execution_timeout=600,
            queue=self.queue,
        )

    def resolve_input(self, ctx):
        return (
            Inputs()
            .int("seconds", default=0, minimum=0, maximum=600)
            .str("records_uri", required=True)
            .str("records_db", required=True)
        )

    def execute(self, ctx):
        run = _record(ctx)
        print(f"probe {ctx.operation_id} on {run['worker']} version {VERSION}", flush=True)
        deadline = time.monotonic() + ctx.params.get("seconds", 0)
        while time.monotonic() < deadline:
            ctx.check_for_termination()
            print(f"probe {ctx.operation_id} working", flush=True)
            time.sleep(0.5)
        return {"worker": run["worker"], "version": VERSION}


class ProbeGpu(Probe):
    queue = "gpu"


def register(p):
    p.register(Probe)
    p.register(ProbeGpu)
