"""The reliability suite uses the executor tests' sample operators and fixtures."""

import sys
from pathlib import Path

EXECUTION_TESTS = Path(__file__).resolve().parents[1] / "execution"
sys.path.append(str(EXECUTION_TESTS))  # appended: its conftest must not shadow this one

from executor_fixtures import background, make_executor, processes, queue, wait_for  # noqa: E402,F401

# The hostile corpus installs plugins like the plugin tests do.
from tests.plugins.conftest import admin, registry  # noqa: E402,F401
from tests.plugins.test_delegate import setup  # noqa: E402,F401
