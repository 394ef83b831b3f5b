"""Fixtures for executor tests (tests/execution and tests/reliability import them into their
conftest): executors on the sample operators with short intervals, runs in background threads,
and cleanup of every process a test started (by PID)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import psutil
import pytest
from sample_operators import FAST, uri

from fiftyops_provider.execution import Executor
from fiftyops_provider.execution.executor import kill_process_tree


@pytest.fixture
def make_executor(service) -> Iterator[Callable[..., Executor]]:
    """``make_executor(**overrides)``; children still running at teardown are killed by PID."""
    made: list[Executor] = []

    def make(**overrides: Any) -> Executor:
        executor = Executor(service, **{**FAST, **overrides})
        made.append(executor)
        return executor

    yield make
    for executor in made:
        pid = executor.current_pid
        if pid is not None:
            kill_process_tree(pid)


@pytest.fixture
def background() -> Iterator[Callable[..., Future]]:
    """``background(fn, *args)`` runs ``fn`` in a thread; teardown waits for all of them."""
    pool = ThreadPoolExecutor(max_workers=8)
    yield pool.submit
    pool.shutdown(wait=True)


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen]]:
    """Processes a test starts; killed (with their groups) at teardown."""
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        if process.poll() is None:
            kill_process_tree(process.pid)
            process.kill()
        process.wait()


@pytest.fixture
def queue(service) -> Callable[..., Any]:
    """``queue("quick", {"a": 1}, **queue_operation_kwargs)``: a queued op of a sample operator."""

    def add(name: str, params: dict | None = None, **kwargs: Any):
        kwargs.setdefault("initial_state", "queued")
        kwargs.setdefault("queued_by", "alice")
        context = {"request_params": {"dataset_name": "ds", "params": params or {}}}
        return service.queue_operation(uri(name), context=context, **kwargs)

    return add


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


@pytest.fixture
def wait_for() -> Callable[..., Any]:
    return wait_until


def process_gone(pid: int) -> bool:
    """Dead (a zombie waiting for init to reap it counts as dead)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
