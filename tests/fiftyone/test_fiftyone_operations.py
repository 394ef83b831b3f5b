"""Real FiftyOne operations, queued by the real ``fiftyone`` 1.22.1 (in its own interpreter) on
the FiftyOps database, run by FiftyOps with FiftyOne's own executor, and read back by FiftyOne."""

from __future__ import annotations

import pytest
from bson import ObjectId

from fiftyops_provider.execution import run_launcher

pytestmark = pytest.mark.fiftyone

QUEUE = """
import json
import fiftyone as fo
from fiftyone.operators.delegated import DelegatedOperationService
from fiftyone.operators.executor import ExecutionContext

ds = fo.Dataset("fo-made", persistent=True)
ds.add_samples([fo.Sample(filepath=f"/tmp/{i}.jpg", score=i, keep=i) for i in range(5)])
svc = DelegatedOperationService()

def queue(uri, params, target=None):
    rp = {"dataset_name": ds.name, "dataset_id": str(ds._doc.id), "params": params}
    return str(svc.queue_operation(uri, delegation_target=target, context=ExecutionContext(request_params=rp)).id)

print(json.dumps({
    "other_target": queue(
        "@voxel51/operators/clone_sample_field", {"field_name": "keep", "new_field_name": "x"}, "elsewhere"
    ),
    "unknown": queue("@acme/missing/op", {}),
    "clear": queue("@voxel51/operators/clear_sample_field", {"field_names": ["score"]}),
}))
"""

READ = """
import json
import fiftyone as fo
from fiftyone.operators.delegated import DelegatedOperationService
svc = DelegatedOperationService()
ids = %r
from bson import ObjectId
docs = {name: svc.get(ObjectId(doc_id)) for name, doc_id in ids.items()}
ds = fo.load_dataset("fo-made")
print(json.dumps({
    "states": {name: doc.run_state for name, doc in docs.items()},
    "run_links": {name: doc.run_link for name, doc in docs.items()},
    "results": {name: (doc.result.result if doc.result else None) for name, doc in docs.items()},
    "errors": {name: (doc.result.error if doc.result else None) for name, doc in docs.items()},
    "scores": ds.values("score"),
    "keep": ds.values("keep"),
    "kept": ds.values("kept") if ds.has_sample_field("kept") else None,
    "loadable": sorted(fo.load_dataset(name).name for name in fo.list_datasets()),
}))
"""


def test_fiftyops_runs_a_fiftyone_operation_and_leaves_other_peoples_alone(fiftyone, service, db):
    ids = fiftyone(QUEUE)
    before = {name: db.delegated_ops.find_one({"_id": ObjectId(ids[name])}) for name in ids}

    assert run_launcher(service, max_operations=1, poll_interval=0.1, heartbeat_interval=1.0) == 1

    seen = fiftyone(READ % ids)
    assert seen["states"] == {"other_target": "queued", "unknown": "queued", "clear": "completed"}, seen["errors"]
    assert seen["scores"] == [None] * 5 and seen["keep"] == [0, 1, 2, 3, 4]
    for name in ("other_target", "unknown"):  # untouched, byte for byte
        assert db.delegated_ops.find_one({"_id": before[name]["_id"]}) == before[name]
    assert seen["loadable"] == ["fo-made"]
