"""The attempt budget is decided once (``ResetPolicy``): the runs the executor and the reaper allow
are exactly the first run plus the retries the DAG factory gives Airflow."""

from __future__ import annotations

import pytest

from fiftyops_provider.execution.policy import ResetPolicy


@pytest.mark.parametrize(
    ("on_reset", "max_attempts", "reruns"),
    [("rerun", 3, 2), ("rerun", 1, 0), ("failed", 3, 0), ("failed", 1, 0)],
)
def test_reruns_and_allows_rerun_agree(on_reset, max_attempts, reruns):
    policy = ResetPolicy(on_reset, max_attempts)
    assert policy.reruns == reruns
    allowed = [attempt for attempt in range(1, 10) if policy.allows_rerun(attempt)]
    assert allowed == list(range(1, reruns + 1))  # every attempt but the last may run again
