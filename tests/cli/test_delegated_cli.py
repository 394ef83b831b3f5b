"""``fiftyops delegated`` against a real mongod: tables, --json, exit codes, refusals."""

from __future__ import annotations

import json

import pytest

from fiftyops_provider.cli.main import main
from fiftyops_provider.store import ExecutionRunState as S
from fiftyops_provider.store import StoreError


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def acting_admin(db, monkeypatch):
    """The commands act as an admin here; who may do what is tests/cli/test_delegated_access.py."""
    from fiftyops_provider.access.users import UserStore

    UserStore(db).create("root", "ADMIN")
    monkeypatch.setenv("FIFTYOPS_USER", "root")


@pytest.fixture
def ops(service):
    ctx = {"request_params": {"dataset_name": "quickstart", "params": {"n": 2}}}
    a = service.queue_operation("@fiftyops/utils/count", label="Count", context=ctx, queued_by="alice")
    b = service.queue_operation(
        "@fiftyops/io/export", label="Export", context=ctx, queued_by="bob", initial_state="queued"
    )
    service.set_running(b.id)
    service.set_progress(b.id, 0.42)
    c = service.queue_operation("@fiftyops/io/export", label="Done", context=ctx, initial_state="queued")
    service.set_running(c.id)
    service.set_completed(c.id, result={"exported": 7})
    return a, b, c


def test_list_table_shows_state_with_progress(capsys, ops):
    code, out, _ = run(capsys, "delegated", "list")
    assert code == 0
    assert "running (42%)" in out and "Count" in out and "1-3 of 3" in out


def test_list_json_with_filters(capsys, ops):
    code, out, _ = run(
        capsys, "delegated", "list", "--json", "-s", "running", "-s", "completed", "-o", "@fiftyops/io/export"
    )
    data = json.loads(out)
    assert code == 0 and data["total"] == 2
    assert {op["run_state"] for op in data["operations"]} == {"running", "completed"}
    code, out, _ = run(capsys, "--json", "delegated", "list", "-u", "alice")
    assert [op["label"] for op in json.loads(out)["operations"]] == ["Count"]


def test_info_and_output(capsys, ops):
    _, _, done = ops
    code, out, _ = run(capsys, "delegated", "info", str(done.id))
    assert code == 0 and "exported" in out and "completed" in out
    code, out, _ = run(capsys, "delegated", "output", str(done.id), "--json")
    assert json.loads(out) == {"exported": 7}


def test_output_of_unfinished_operation_exits_1(capsys, ops):
    code, _, err = run(capsys, "delegated", "output", str(ops[0].id))
    assert code == 1 and err.startswith("error: ") and "scheduled" in err and "Traceback" not in err


def test_unknown_and_malformed_ids_are_one_line_errors(capsys, ops):
    code, _, err = run(capsys, "delegated", "info", "0123456789abcdef01234567")
    assert code == 1 and "No delegated operation" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "delegated", "info", "nope")
    assert code == 1 and "not a valid operation id" in err


def test_debug_shows_the_traceback(capsys, ops):
    code, _, err = run(capsys, "--debug", "delegated", "info", "nope")
    assert code == 1 and "Traceback" in err


def test_delete_refuses_running_and_reports_each_id(capsys, service, ops):
    _scheduled, running, done = ops
    code, out, err = run(capsys, "delegated", "delete", str(running.id), str(done.id))
    assert code == 1 and "terminate it" in err and f"{done.id} deleted" in out
    assert service.get(running.id).run_state is S.RUNNING


def test_fail_terminate_pin_label_archive_rerun(capsys, service, ops):
    scheduled, running, done = ops
    assert run(capsys, "delegated", "fail", str(scheduled.id))[0] == 0
    assert service.get(scheduled.id).run_state is S.FAILED
    assert run(capsys, "delegated", "fail", str(done.id))[0] == 1
    assert run(capsys, "delegated", "terminate", str(running.id), "--reason", "enough")[0] == 0
    assert service.get(running.id).termination["reason"] == "enough"
    assert run(capsys, "delegated", "pin", str(done.id))[0] == 0 and service.get(done.id).pinned
    assert run(capsys, "delegated", "label", str(done.id), "Renamed")[0] == 0
    assert service.get(done.id).label == "Renamed"
    assert run(capsys, "delegated", "archive", str(done.id))[0] == 0 and service.get(done.id).archived


def test_failing_a_pipeline_child_records_its_error_on_the_parent(capsys, service):
    parent = service.queue_operation("@org/p/pipe", pipeline={"stages": [{"operator_uri": "@org/p/a"}]})
    child = service.queue_operation("@org/p/a", parent_id=parent.id, initial_state="queued")
    service.set_running(child.id)
    code, out, _ = run(capsys, "delegated", "fail", str(child.id))
    assert code == 0 and f"{child.id} marked failed" in out
    errors = service.get(parent.id).pipeline_run_info["child_errors"]
    assert errors == {str(child.id): "marked failed by root from the CLI"}


def test_cleanup_dry_run_then_delete_never_running(capsys, service, ops):
    code, out, _ = run(capsys, "delegated", "cleanup", "--operator", "@fiftyops/io/export", "--dry-run")
    assert code == 0 and "1 operation(s) would be deleted" in out
    assert service.count() == 3
    code, out, _ = run(capsys, "delegated", "cleanup", "--operator", "@fiftyops/io/export")
    assert "1 operation(s) deleted" in out
    assert sorted(d.run_state for d in service.list_operations()) == [S.RUNNING, S.SCHEDULED]
    assert run(capsys, "delegated", "cleanup")[0] == 1


def test_cleanup_orphan_counts_only_runs_whose_dataset_is_gone(capsys, db, service, ops):
    """Runs that never had a dataset are no orphans (``ops`` has three); a run whose dataset was
    deleted is, and a run whose dataset still exists is not."""
    from fiftyops_provider.datasets.catalog import create_dataset

    kept, gone = create_dataset(db, "kept"), create_dataset(db, "gone")
    on_kept = service.queue_operation("@o/p/op", context={"request_params": {"dataset_id": kept.id}})
    on_gone = service.queue_operation("@o/p/op", context={"request_params": {"dataset_id": gone.id}})
    gone.delete()
    code, out, _ = run(capsys, "delegated", "cleanup", "--orphan", "--dry-run")
    assert code == 0 and "1 operation(s) would be deleted" in out
    code, out, _ = run(capsys, "delegated", "cleanup", "--orphan")
    assert "1 operation(s) deleted" in out
    assert service.count() == 4 and service.get(on_kept.id)
    with pytest.raises(StoreError):
        service.get(on_gone.id)


def test_logs_prints_the_log_file(capsys, service, operations, ops, tmp_path):
    log = tmp_path / "op.log"
    log.write_text("line one\nline two\n")
    operations.update_one({"_id": ops[1].id}, {"$set": {"log_path": str(log)}})
    code, out, _ = run(capsys, "delegated", "logs", str(ops[1].id))
    assert code == 0 and out == "line one\nline two\n"


def test_logs_of_a_run_on_another_machine_come_from_the_database(capsys, service, ops, operations):
    running, done = ops[1], ops[2]
    for doc in (running, done):
        operations.update_one({"_id": doc.id}, {"$set": {"log_path": "/on/the/worker/attempt=1.log"}})
        service.set_log_tail(doc.id, "last line")
    service.store_log(done.id, b"first line\nlast line\n")
    assert run(capsys, "delegated", "logs", str(done.id))[:2] == (0, "first line\nlast line\n")
    assert run(capsys, "delegated", "logs", str(running.id))[:2] == (0, "last line\n")  # live: the tail


def test_bad_usage_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["delegated", "list", "--state", "exploded"])
    assert exc.value.code == 2
