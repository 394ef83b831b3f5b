"""Starting the processes of a stack in sessions of their own, and stopping them by PID.

Every server a stack starts (Airflow components, mongod, PostgreSQL, Redis) is the direct child of
the stack, in a new session, so the stack owns its PID and the PIDs of whatever it forks (the same
process group). Nothing here looks processes up by name: the machine may run other stacks.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import psutil


def spawn(
    command: list[str],
    log_file: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    user: str | None = None,
) -> subprocess.Popen:
    """Start ``command`` in a session of its own, its output appended to ``log_file``.

    :param user: run as this system user (PostgreSQL refuses root); None keeps ours.
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        return subprocess.Popen(
            command,
            env=dict(env) if env is not None else None,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=cwd,
            user=user,
            group=user,
            extra_groups=[] if user else None,
        )


def stop_groups(
    processes: Iterable[subprocess.Popen | None], first_signal: int = signal.SIGTERM, timeout: float = 20.0
) -> None:
    """Signal every process at once, wait up to ``timeout`` for all of them, then SIGKILL the
    process group of any still alive (a task a worker forked, a server's helpers).

    :param first_signal: the polite signal (SIGTERM; SIGINT for servers that shut down faster on it).
    """
    alive = [p for p in processes if p is not None]
    for process in alive:
        if process.poll() is None:
            try:
                process.send_signal(first_signal)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + timeout
    for process in alive:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for process in alive:
        kill_group(process)


def kill_group(process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """Send ``sig`` to the process group ``process`` leads (started by ``spawn``) and reap it."""
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass
    if sig == signal.SIGKILL:
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            pass


def kill_tree(process: subprocess.Popen) -> None:
    """SIGKILL ``process`` and every descendant, whatever session it moved to (Airflow runs each
    task, and FiftyOps each operation, in a session of its own): what a host crash does to them."""
    try:
        tree = psutil.Process(process.pid)
        members = [tree, *tree.children(recursive=True)]
    except psutil.NoSuchProcess:
        members = []
    for member in members:
        try:
            member.kill()
        except psutil.NoSuchProcess:
            pass
    kill_group(process)
