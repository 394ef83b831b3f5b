"""The example plugins in plugins_repo/ do real work when run by the executor."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

import fiftyops_provider.management as fom
from fiftyops_provider import delegate
from fiftyops_provider.datasets.catalog import create_dataset, load_dataset
from fiftyops_provider.store import DelegatedOperationService
from fiftyops_provider.store import ExecutionRunState as S
from tests.plugins.conftest import REPO_PLUGINS


@pytest.fixture
def service(db, admin):
    for name in ("utils", "io", "pipelines", "webhook"):
        fom.upload_plugin(REPO_PLUGINS / name)
    create_dataset(db, "animals")
    return DelegatedOperationService(db)


def run(service, uri, **params):
    doc = delegate(uri, dataset="animals", params=params, user="root")
    service.admit_scheduled_operations()
    service.execute_operation(doc.id, heartbeat_interval=0.5)
    return service.get(doc.id)


def test_import_count_compute_export(service, db, tmp_path):
    source = tmp_path / "animals.csv"
    source.write_text("filepath,kind\n/img/cat.jpg,cat\n/img/doggo.jpg,dog\n")
    assert run(service, "@fiftyops/io/import_samples", path=str(source)).result.result["imported"] == 2
    assert run(service, "@fiftyops/utils/count_samples").result.result == {"dataset": "animals", "count": 2}
    done = run(service, "@fiftyops/utils/compute_field", field="name_length")
    assert done.result.result == {"updated": 2} and done.status.progress == 1.0
    assert sorted(s["name_length"] for s in load_dataset(db, None, "animals")) == [12, 14]
    out = tmp_path / "export.json"
    assert run(service, "@fiftyops/io/export_samples", path=str(out)).run_state is S.COMPLETED
    assert {row["kind"] for row in json.loads(out.read_text())} == {"cat", "dog"}


def test_failing_operator_records_message_and_traceback(service):
    failed = run(service, "@fiftyops/utils/fail", message="disk on fire")
    assert failed.run_state is S.FAILED
    assert "disk on fire" in failed.result.error_message
    assert "Traceback" in failed.result.error and "RuntimeError" in failed.result.error


def test_pipeline_runs_its_stages_and_cleanup_runs_after_a_failure(service, db, tmp_path):
    load_dataset(db, None, "animals").add_samples([{"filepath": "/img/a.jpg"}])
    ok = run(service, "@fiftyops/pipelines/measure_and_export", path=str(tmp_path / "p.json"))
    assert ok.run_state is S.COMPLETED and json.loads((tmp_path / "p.json").read_text())[0]["name_length"] == 10
    (tmp_path / "blocked").mkdir()
    bad = run(service, "@fiftyops/pipelines/measure_and_export", path=str(tmp_path / "blocked"))
    assert bad.run_state is S.FAILED and "stage[1]" in bad.result.error_message
    log = Path(bad.log_path).read_text()
    assert "Cleanup done" in log  # the always_run stage ran after the export failed


def test_secret_is_used_and_masked(service, monkeypatch):
    monkeypatch.setenv("FIFTYOPS_WEBHOOK_TOKEN", "tok-123456")
    done = run(service, "@fiftyops/webhook/sign_summary")
    assert done.run_state is S.COMPLETED and len(done.result.result["signature"]) == 64
    log = Path(done.log_path).read_text()
    assert "tok-123456" not in log and "***" in log


def test_sleep_stops_at_its_checkpoint_when_terminated(service):
    doc = delegate("@fiftyops/utils/sleep", dataset="animals", params={"seconds": 60}, user="root")
    service.admit_scheduled_operations()
    worker = threading.Thread(target=service.execute_operation, args=(doc.id,), kwargs={"heartbeat_interval": 0.5})
    worker.start()
    deadline = time.monotonic() + 20
    while service.get(doc.id).run_state is not S.RUNNING and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.5)
    service.terminate(doc.id, reason="demo over", requested_by="root")
    worker.join(30)
    stopped = service.get(doc.id)
    assert stopped.run_state is S.FAILED and "demo over" in stopped.result.error
    assert "OperationTerminated" in stopped.result.error  # stopped cooperatively, not killed


def test_import_from_a_directory_and_a_json_file_then_export_csv(service, db, tmp_path):
    images = tmp_path / "images"
    (images / "sub").mkdir(parents=True)
    for name in ("a.jpg", "sub/b.jpg"):
        (images / name).write_bytes(b"\xff\xd8")
    assert run(service, "@fiftyops/io/import_samples", path=str(images)).result.result["imported"] == 2
    records = tmp_path / "records.json"
    records.write_text(json.dumps([{"filepath": "/x/c.jpg", "tags": ["new"]}]))
    assert run(service, "@fiftyops/io/import_samples", path=str(records)).result.result["imported"] == 1
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"not": "a list"}))
    assert "JSON list of objects" in run(service, "@fiftyops/io/import_samples", path=str(bad)).result.error
    out = tmp_path / "out.csv"
    done = run(service, "@fiftyops/io/export_samples", path=str(out), format="csv")
    assert done.label == "Export to CSV" and done.result.result["exported"] == 3
    rows = out.read_text().splitlines()
    assert rows[0] == "_id,created_at,filepath,last_modified_at,tags" and len(rows) == 4
    assert {row.split(",")[2] for row in rows[1:]} == {str(images / "a.jpg"), str(images / "sub/b.jpg"), "/x/c.jpg"}
