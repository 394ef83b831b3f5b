"""Starting ``AirflowStandalone``: when one of its two servers cannot start, the caller gets an
error naming it and its log, and nothing it started is left running."""

from __future__ import annotations

import socket

import pytest

from fiftyops_provider.stacks.standalone import AirflowStandalone, StandaloneFailed, processes_of


def test_an_execution_api_server_that_cannot_start_stops_everything(tmp_path):
    (tmp_path / "dags").mkdir()
    standalone = AirflowStandalone(tmp_path / "airflow", tmp_path / "dags")
    with socket.socket() as taken:  # its port, held by someone else
        taken.bind(("127.0.0.1", standalone.execution_api_port))
        taken.listen()
        with pytest.raises(StandaloneFailed, match="execution API server exited") as failure:
            standalone.start(timeout=120)
    assert str(standalone.execution_api_log_file) in str(failure.value)
    assert processes_of(tmp_path / "airflow") == []
