"""One set of datasets in a database shared with FiftyOne: a FiftyOne-made dataset is usable by
FiftyOps (queueing, permissions, its operators' ``ctx.dataset``), and FiftyOne still loads every
dataset, the ones FiftyOps made included, after FiftyOps ran."""

from __future__ import annotations

from pathlib import Path

import pytest

import fiftyops_provider.management as fom
from fiftyops_provider import delegate
from fiftyops_provider.datasets.catalog import create_dataset
from fiftyops_provider.execution import run_launcher
from fiftyops_provider.plugins.errors import PermissionDenied
from fiftyops_provider.store import ExecutionRunState as S

pytestmark = pytest.mark.fiftyone
ROOT = Path(__file__).resolve().parents[2]

MAKE = """
import json
import fiftyone as fo
ds = fo.Dataset("fo-made", persistent=True)
ds.add_samples([fo.Sample(filepath=f"/data/{'x' * i}.jpg") for i in range(1, 4)])
print(json.dumps(str(ds._doc.id)))
"""

READ = """
import json
import fiftyone as fo
loaded = {name: fo.load_dataset(name) for name in fo.list_datasets()}
print(json.dumps({
    "names": sorted(loaded),
    "path_length": loaded["fo-made"].values("path_length"),
    "ops_filepaths": loaded["ops-made"].values("filepath"),
    "ops_kinds": loaded["ops-made"].values("kind"),
}))
"""


def test_fiftyone_datasets_are_fiftyops_datasets_and_back(fiftyone, service, db, monkeypatch):
    monkeypatch.setenv("FIFTYOPS_USER", "root")
    fom.upload_plugin(ROOT / "plugins_repo" / "utils")
    fom.create_user("alice", fom.MEMBER)
    fom.create_user("bob", fom.MEMBER)
    dataset_id = fiftyone(MAKE)

    fom.grant_dataset_permission("alice", "fo-made", fom.EDIT)  # found by name
    with pytest.raises(PermissionDenied):
        delegate("@fiftyops/utils/compute_field", dataset="fo-made", params={"field": "path_length"}, user="bob")
    doc = delegate("@fiftyops/utils/compute_field", dataset="fo-made", params={"field": "path_length"}, user="alice")
    assert str(doc.dataset_id) == dataset_id
    ops = create_dataset(db, "ops-made")
    ops.add_samples([{"filepath": "/data/a.jpg", "kind": "cat"}, {"filepath": "/data/b.jpg", "kind": "dog"}])

    assert run_launcher(service, max_operations=1, poll_interval=0.1, heartbeat_interval=1.0) == 1
    assert service.get(doc.id).run_state is S.COMPLETED, service.get(doc.id).result

    seen = fiftyone(READ)
    assert seen["names"] == ["fo-made", "ops-made"]
    assert seen["path_length"] == [len(f"/data/{'x' * i}.jpg") for i in range(1, 4)]
    assert seen["ops_filepaths"] == ["/data/a.jpg", "/data/b.jpg"] and seen["ops_kinds"] == ["cat", "dog"]
