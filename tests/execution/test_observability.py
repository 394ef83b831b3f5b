"""What a run shows while it goes and after: progress, live log tail and size, the log file,
echo to the orchestrator's log, log storage failures, secrets and their masking."""

from __future__ import annotations

import hashlib
from pathlib import Path

import gridfs

from fiftyops_provider.execution import LOG_VIEW_LIMIT_BYTES, OutcomeState, log_is_download_only
from fiftyops_provider.store import ExecutionRunState as S
from fiftyops_provider.store.log_archive import BUCKET, INLINE_COLLECTION, INLINE_MAX_BYTES


def test_progress_is_visible_while_running_and_bad_values_do_not_kill_the_run(
    service, queue, make_executor, background, wait_for
):
    doc = queue("progress", {"pause": 0.8})
    future = background(make_executor().run, doc.id)

    seen = wait_for(lambda: (d := service.get(doc.id)).status and d.status.label == "a quarter" and d)
    assert seen.run_state is S.RUNNING and seen.status.progress == 0.25
    later = wait_for(lambda: (d := service.get(doc.id)).status.label == "three quarters" and d)
    assert later.status.progress == 0.75

    assert future.result(timeout=30).state is OutcomeState.COMPLETED
    stored = service.get(doc.id)
    log = Path(stored.log_path).read_text()
    assert "WARNING fiftyops.operator: Could not record progress 2.0 / not a fraction" in log
    assert "Progress must be a number between 0 and 1, got 2.0" in log


def test_live_log_tail_and_size_while_running(service, queue, make_executor, background, wait_for):
    doc = queue("chatty", {"lines": 3, "pause": 1.5})
    future = background(make_executor().run, doc.id)

    live = wait_for(lambda: (d := service.get(doc.id)).log_tail and "written to stderr" in d.log_tail and d)
    assert live.run_state is S.RUNNING and live.log_size > 0
    for line in (
        "printed line 2",
        "INFO fiftyops.operator: logged through ctx.logger",
        "WARNING sample_operators: logged through a module logger",
    ):
        assert line in live.log_tail
    assert "chatty done" not in live.log_tail

    future.result(timeout=30)
    stored = service.get(doc.id)
    log_file = Path(stored.log_path)
    assert "chatty done" in stored.log_tail and stored.log_size == log_file.stat().st_size
    assert stored.log_upload_error is None and not log_is_download_only(stored.log_size)


def test_operator_stdin_is_empty_not_the_executor_control_pipe(service, queue, make_executor):
    doc = queue("chatty", {"lines": 0, "read_stdin": True})
    outcome = make_executor().run(doc.id)
    assert outcome.state is OutcomeState.COMPLETED
    assert "stdin gave ''" in service.get(doc.id).log_tail


def test_big_logs_are_download_only_and_the_tail_stays_small(service, queue, make_executor):
    doc = queue("chatty", {"filler_bytes": LOG_VIEW_LIMIT_BYTES + 50_000})
    make_executor().run(doc.id)
    stored = service.get(doc.id)
    assert stored.log_size > LOG_VIEW_LIMIT_BYTES and log_is_download_only(stored.log_size)
    assert len(stored.log_tail) <= 16_000 and stored.log_tail.rstrip().endswith("completed")


def test_orchestrator_log_path_is_stored_and_output_echoed(service, queue, make_executor, tmp_path):
    echoed: list[str] = []
    doc = queue("chatty", {"lines": 2})
    airflow_log = "https://airflow.example/log?dag_id=d&task_id=t&try_number=1"

    outcome = make_executor(echo=echoed.append).run(
        doc.id, run_link="https://airflow.example/run", log_path=airflow_log
    )

    stored = service.get(doc.id)
    assert stored.log_path == airflow_log == outcome.log_path and stored.run_link == "https://airflow.example/run"
    assert "printed line 1" in echoed and "chatty done" in echoed
    capture = next((tmp_path / "fiftyops-home" / "logs").rglob(f"{doc.id}.log"))
    assert "printed line 1" in capture.read_text() and stored.log_size == capture.stat().st_size


def test_with_an_orchestrator_log_the_output_goes_to_stdout_by_default(service, queue, make_executor, capfd):
    doc = queue("chatty", {"lines": 1})
    make_executor().run(doc.id, log_path="/opt/airflow/logs/dag_id=d/run_id=r/task_id=t/attempt=1.log")
    out = capfd.readouterr().out
    assert "printed line 0" in out and "chatty done" in out


def test_log_storage_failure_is_recorded_and_the_run_still_completes(
    service, queue, make_executor, monkeypatch, tmp_path
):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setenv("FIFTYOPS_LOG_PATH", str(blocker / "logs"))
    doc = queue("chatty", {"lines": 2})

    outcome = make_executor().run(doc.id)

    assert outcome.state is OutcomeState.COMPLETED
    stored = service.get(doc.id)
    assert stored.run_state is S.COMPLETED and stored.result.result == {"ok": True}
    assert stored.log_upload_error.startswith(f"Cannot write the log file {blocker}/logs/")
    assert "Not a directory" in stored.log_upload_error
    assert "chatty done" in stored.log_tail and stored.log_size is None


def test_only_declared_secrets_reach_the_operator_and_values_are_masked(service, queue, make_executor):
    token = "tok-5ecret-value-42"
    secrets = {"SAMPLE_TOKEN": token, "SAMPLE_UNDECLARED": "must-not-leak"}
    doc = queue("secret_reader")

    make_executor(secrets=secrets).run(doc.id)

    stored = service.get(doc.id)
    assert stored.result.result == {
        "ctx_keys": ["SAMPLE_TOKEN"],  # SAMPLE_UNSET is declared but has no value
        "env": {"SAMPLE_TOKEN": True, "SAMPLE_UNDECLARED": False},
        "token_sha256": hashlib.sha256(token.encode()).hexdigest(),
    }
    log = Path(stored.log_path).read_text()
    assert token not in log and token not in stored.log_tail
    assert "the token is ***" in log and "env token ***" in log


def test_secrets_default_to_the_environment(service, queue, make_executor, monkeypatch):
    monkeypatch.setenv("SAMPLE_TOKEN", "from-the-env-123")
    doc = queue("secret_reader")
    make_executor().run(doc.id)
    stored = service.get(doc.id)
    assert stored.result.result["ctx_keys"] == ["SAMPLE_TOKEN"]
    assert "the token is ***" in Path(stored.log_path).read_text()


def test_secret_values_are_masked_in_stored_errors(service, queue, make_executor):
    token = "tok-5ecret-value-42"
    doc = queue("secret_reader", {"fail": True})
    make_executor(secrets={"SAMPLE_TOKEN": token}).run(doc.id)
    stored = service.get(doc.id)
    assert stored.result.error_message == "PermissionError: server rejected token ***"
    assert token not in stored.result.error and "server rejected token ***" in stored.result.error


PEM = "\n".join(
    [
        "-----BEGIN PRIVATE KEY-----",
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj",
        "MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu",
        "-----END PRIVATE KEY-----",
    ]
)
TOKEN = "tok-5ecret-value-42"


def _leaky_run(service, queue, make_executor, secret: str, **params):
    doc = queue("leaky", params)
    make_executor(secrets={"SAMPLE_TOKEN": secret}).run(doc.id)
    stored = service.get(doc.id)
    return stored, Path(stored.log_path).read_text()


def _leaks(secret: str, *texts: str) -> list[str]:
    """Each place (by index) where the secret or one of its lines still shows."""
    parts = [secret, *(line for line in secret.splitlines() if len(line) >= 4)]
    return [f"text {i}: {part[:20]}" for i, text in enumerate(texts) for part in parts if part in text]


def test_a_secret_straddling_the_output_pumps_read_boundary_is_masked(service, queue, make_executor):
    stored, log = _leaky_run(service, queue, make_executor, TOKEN)

    assert _leaks(TOKEN, log, stored.log_tail) == []
    assert "x*** end of long line" in log.replace("\n", "")  # the line came in two pieces, masked whole


def test_a_multi_line_secret_is_masked_whole_and_line_by_line(service, queue, make_executor):
    stored, log = _leaky_run(service, queue, make_executor, PEM)

    assert _leaks(PEM, log, stored.log_tail, repr(stored.result.result), stored.status.label) == []
    assert "begin\n***\n***\n***\n***\nend" in log


def test_progress_labels_and_results_are_masked(service, queue, make_executor):
    stored, _ = _leaky_run(service, queue, make_executor, TOKEN)

    assert stored.status.label == "using ***"
    assert stored.result.result == {"plain": "***", "nested": ["<***>", {"deep": "***"}], "key ***": 1}


def test_errors_and_tracebacks_are_masked(service, queue, make_executor):
    stored, log = _leaky_run(service, queue, make_executor, PEM, fail=True)

    assert stored.run_state is S.FAILED
    assert stored.result.error_message == "RuntimeError: the server refused ***"
    assert "Traceback" in stored.result.error and _leaks(PEM, stored.result.error, log, stored.log_tail) == []


def test_the_whole_log_is_stored_in_the_database_before_the_outcome(service, queue, make_executor, tmp_path):
    """A run on another machine: readers there get the whole log from MongoDB, not the tail."""
    doc = queue("chatty", {"lines": 300})
    make_executor().run(doc.id, log_path="/elsewhere/airflow/attempt=1.log")
    capture = next((tmp_path / "fiftyops-home" / "logs").rglob(f"{doc.id}.log")).read_text()
    stored = service.stored_log(doc.id)
    assert stored == capture and "printed line 0" in stored and stored.rstrip().endswith("completed")
    assert "printed line 0" not in service.get(doc.id).log_tail  # the tail alone would have lost it

    rerun_capture = capture + "another attempt\n"
    service.store_log(doc.id, rerun_capture.encode())  # a later attempt's upload replaces it
    assert service.stored_log(doc.id) == rerun_capture


def test_a_log_too_big_for_one_document_is_stored_whole_and_replaces_the_earlier_copy(service, queue, db):
    doc = queue("chatty", {"lines": 1})
    first_attempt = b"attempt 1\n" * 1000
    service.store_log(doc.id, first_attempt)
    both_attempts = first_attempt + b"attempt 2 " + b"x" * INLINE_MAX_BYTES + b"\n"

    service.store_log(doc.id, both_attempts)

    assert service.stored_log(doc.id) == both_attempts.decode()
    assert db[INLINE_COLLECTION].count_documents({}) == 0  # the smaller copy is gone, not shown instead
    assert db[f"{BUCKET}.files"].count_documents({"filename": str(doc.id)}) == 1


def test_a_log_stored_by_an_earlier_release_is_still_shown(service, queue, db):
    """Up to 0.3.0 every log went to GridFS; a store upgraded in place still shows them."""
    doc = queue("chatty", {"lines": 1})
    gridfs.GridFSBucket(db, bucket_name=BUCKET).upload_from_stream(str(doc.id), b"stored by 0.3.0\n")

    assert service.stored_log(doc.id) == "stored by 0.3.0\n"


def test_a_short_log_is_shown_whole_from_its_tail_without_a_stored_copy(service, queue, make_executor, tmp_path, db):
    """A run of a few lines: the tail the outcome wrote is the whole log, so readers on other
    machines get all of it and the run's end costs no write for a copy."""
    doc = queue("chatty", {"lines": 3})
    make_executor().run(doc.id, log_path="/elsewhere/airflow/attempt=1.log")
    capture = next((tmp_path / "fiftyops-home" / "logs").rglob(f"{doc.id}.log")).read_text()

    assert service.stored_log(doc.id) == capture and "printed line 2" in capture
    assert db[INLINE_COLLECTION].count_documents({}) == 0 and db[f"{BUCKET}.files"].count_documents({}) == 0


def test_deleting_operations_drops_their_stored_logs(service, queue, db):
    """A deleted run's log must not stay in MongoDB for ever, whichever way it was deleted."""
    big = b"x" * (INLINE_MAX_BYTES + 1)
    docs = [queue("chatty", {"lines": 1}) for _ in range(3)]
    for doc, data in zip(docs, (b"small\n", big, b"small\n"), strict=True):
        service.store_log(doc.id, data)
        service.set_running(doc.id)
        service.set_completed(doc.id)
    kept = queue("chatty", {"lines": 1})
    service.store_log(kept.id, b"kept\n")

    service.delete_operation(docs[0].id)
    assert service.cleanup_operations({"run_state": "completed"}) == 2

    assert [d["_id"] for d in db[INLINE_COLLECTION].find()] == [str(kept.id)]
    assert db[f"{BUCKET}.files"].count_documents({}) == 0 and db[f"{BUCKET}.chunks"].count_documents({}) == 0
    assert service.stored_log(kept.id) == "kept\n"
