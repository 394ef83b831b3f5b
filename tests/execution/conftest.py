"""The executor fixtures, shared with tests/reliability (see executor_fixtures.py)."""

from executor_fixtures import background, make_executor, processes, queue, wait_for  # noqa: F401
