"""Starting ``AirflowStandalone``: when one of its two servers cannot start, the caller gets an
error naming it and its log, and nothing it started is left running."""

from __future__ import annotations

import socket

import psutil
import pytest

from fiftyops_provider.stacks.standalone import AirflowStandalone, StandaloneFailed


def processes_of(airflow_home: str) -> list[psutil.Process]:
    """Live processes with ``AIRFLOW_HOME=airflow_home``: everything a standalone there started."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get("AIRFLOW_HOME") == airflow_home and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except psutil.Error:
            continue
    return found


def test_an_execution_api_server_that_cannot_start_stops_everything(tmp_path):
    (tmp_path / "dags").mkdir()
    standalone = AirflowStandalone(tmp_path / "airflow", tmp_path / "dags")
    with socket.socket() as taken:  # its port, held by someone else
        taken.bind(("127.0.0.1", standalone.execution_api_port))
        taken.listen()
        with pytest.raises(StandaloneFailed, match="execution API server exited") as failure:
            standalone.start(timeout=120)
    assert str(standalone.execution_api_log_file) in str(failure.value)
    assert processes_of(str(tmp_path / "airflow")) == []
