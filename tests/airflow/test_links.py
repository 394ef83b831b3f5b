"""Deep links and log paths render exactly as Airflow 3 renders them."""

from __future__ import annotations

from airflow.sdk import conf

from fiftyops_provider.links import FiftyOpsRunLink, task_instance_url, task_log_path

RUN_ID = "manual__2026-11-22T09:05:19.610520+00:00"


def test_url_matches_airflow_log_url_format():
    # The VERIFIED RuntimeTaskInstance.log_url of Airflow 3.3.2 for this task instance:
    expected = "http://localhost:8080/dags/killme/runs/manual__2026-11-22T09%3A05%3A19.610520%2B00%3A00/tasks/slow?try_number=2"
    assert task_instance_url("http://localhost:8080/", "killme", RUN_ID, "slow", 2) == expected


def test_mapped_and_untried_variants():
    assert (
        task_instance_url("http://h", "d", "r", "t", 1, map_index=0)
        == "http://h/dags/d/runs/r/tasks/t/mapped/0?try_number=1"
    )
    assert task_instance_url("http://h/", "d", "r", "t", 0) == "http://h/dags/d/runs/r/tasks/t"


def test_log_path_uses_airflows_default_template():
    template = conf.get("logging", "log_filename_template")
    path = task_log_path("/logs", template, "dag", RUN_ID, "task", 3)
    assert path == f"/logs/dag_id=dag/run_id={RUN_ID}/task_id=task/attempt=3.log"
    mapped = task_log_path("/logs", template, "dag", "r", "task", 1, map_index=4)
    assert mapped == "/logs/dag_id=dag/run_id=r/task_id=task/map_index=4/attempt=1.log"


def test_run_page_link(monkeypatch):
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.com/")
    assert FiftyOpsRunLink.url_for("abc") == "https://airflow.example.com/fiftyops/runs/abc"
    assert FiftyOpsRunLink().name == "FiftyOps run"


class _TI:
    def __init__(self, run_id: str, try_number: int, map_index: int = -1) -> None:
        self.dag_id, self.run_id, self.task_id, self.try_number, self.map_index = (
            "dag",
            run_id,
            "task",
            try_number,
            map_index,
        )


def test_equals_airflows_own_log_url_property(monkeypatch):
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "http://airflow.test:9090/")
    monkeypatch.delenv("AIRFLOW__FIFTYOPS__BASE_URL", raising=False)
    from fiftyops_provider.links import task_url_for

    for ti in (_TI(RUN_ID, 1), _TI("scheduled__2026-01-01T00:00:00+00:00", 3, 7), _TI("r", 0), _TI("a b/c", 2, 0)):
        assert task_url_for(ti) == RuntimeTaskInstance.log_url.fget(ti)


def test_fiftyops_base_url_wins_and_log_path_reads_logging_config(monkeypatch):
    from fiftyops_provider.links import task_log_path_for, task_url_for

    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "http://api.test")
    monkeypatch.setenv("AIRFLOW__FIFTYOPS__BASE_URL", "https://public.test/airflow/")
    assert task_url_for(_TI("r", 1)) == "https://public.test/airflow/dags/dag/runs/r/tasks/task?try_number=1"
    monkeypatch.setenv("AIRFLOW__LOGGING__BASE_LOG_FOLDER", "/var/log/af")
    assert task_log_path_for(_TI("r", 2, 1)) == "/var/log/af/dag_id=dag/run_id=r/task_id=task/map_index=1/attempt=2.log"
