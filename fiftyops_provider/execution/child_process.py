"""Starting the child process that runs one operation: by ``fork`` (default) or ``spawn``.

Why fork: the parent (an Airflow task process, the local launcher) has already imported pymongo,
psutil, the provider and the operator's plugin module. A spawned child is a fresh interpreter that
imports all of it again, which on a small machine is most of the CPU an operation costs. A forked
child starts with those modules in memory and goes straight to ``child.main()``, with the
operators the parent resolved and checked: it reads no registry and, unless the operator reads a
dataset, opens no MongoDB connection (a client, its topology discovery and a registry read were
most of a no-op child's time on a three-member replica set).

Why spawn stays: a forked child inherits the state plugin modules built at import time. A plugin
that is not fork-safe (one that initialises CUDA, or opens a connection pool, at import) must run
in a fresh interpreter: ``FIFTYOPS_CHILD_START=spawn``.

Both give the child the same isolation: a session (process group) of its own, so the executor can
kill the operator's whole tree; stdin = the executor's requests; stdout and stderr merged = the
operation's log; no other file descriptor than the message pipe (the parent's others lead to
/dev/null in a forked child), so the child can never write to Airflow's supervisor sockets or the
parent's MongoDB connections; only the environment the executor built (``child_env``). The forked
child replaces what it inherited from the parent (standard streams, signal and log handlers;
``database`` drops its cached clients at the fork), uses nothing the parent's other threads own
(they do not exist in it), and never returns into the parent's code.

A forked child also starts with the parent's memory, so before any plugin code runs it forgets
every credential the parent held in FiftyOps objects (``credential_holders``: settings, hooks,
executors, MongoDB clients) and blanks its initial environment block, which
``/proc/self/environ`` would otherwise still show. Objects of other libraries (Airflow's own
caches, the parent's stack frames) are not scrubbed: for a plugin you do not trust, use
``spawn``.
"""

from __future__ import annotations

import faulthandler
import gc
import io
import logging
import os
import signal
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable, Mapping, Sequence
from types import FrameType
from typing import IO, Any, NoReturn, Protocol, cast

from fiftyops_provider import credential_holders
from fiftyops_provider.execution import child
from fiftyops_provider.plugins.operator import Operator

FORK = "fork"
SPAWN = "spawn"
START_METHODS = (FORK, SPAWN)
CHILD_START_VARIABLE = "FIFTYOPS_CHILD_START"

# What a fresh interpreter has for the signals it does not leave at SIG_DFL.
_FRESH_HANDLERS: dict[int, Callable[[int, FrameType | None], Any] | int] = {
    signal.SIGINT: signal.default_int_handler,
    signal.SIGPIPE: signal.SIG_IGN,
    signal.SIGXFSZ: signal.SIG_IGN,
}
# Parent objects a forked child stops using, kept referenced so they are never finalized there:
# finalizing them would close or flush file descriptor numbers the child may have reused.
_PARENT_OBJECTS: list[object] = []


class ChildProcess(Protocol):
    """What the executor uses of a child process (a subset of ``subprocess.Popen``)."""

    pid: int
    stdin: IO[bytes]  # the child's fd 0
    stdout: IO[bytes]  # the child's fds 1 and 2, merged
    returncode: int | None  # negative signal number when killed by a signal

    def poll(self) -> int | None: ...

    def wait(self) -> int: ...


def start_method(configured: str | None) -> str:
    """The start method ``FIFTYOPS_CHILD_START`` names: ``fork`` where ``os.fork`` exists unless set."""
    method = configured or (FORK if hasattr(os, "fork") else SPAWN)
    if method not in START_METHODS:
        raise ValueError(
            f"{CHILD_START_VARIABLE}={configured!r} is not a child start method: set it to 'fork' (the default, "
            "fastest) or 'spawn' (a fresh interpreter per operation, for plugins that are not fork-safe), or unset it."
        )
    if method == FORK and not hasattr(os, "fork"):
        raise ValueError(f"{CHILD_START_VARIABLE}=fork: this platform has no os.fork; set it to 'spawn' or unset it.")
    return method


def start_child(
    method: str,
    env: Mapping[str, str],
    message_fd: int,
    command: Sequence[str] | None = None,
    resolved: Mapping[str, Operator] | None = None,
) -> ChildProcess:
    """Start ``child.main()`` in a new session with ``env``, keeping ``message_fd`` open in it.
    ``command``: run that instead (always spawned), e.g. the FiftyOne interpreter's child, which
    speaks the same wire format (``execution.fiftyone_runtime``). ``resolved``: the operators the
    parent loaded and checked, which a forked child runs as they are (a spawned one loads them)."""
    if command is None and method == FORK:
        return ForkedChild(env, message_fd, resolved or {})
    # cast: with stdin and stdout as PIPE, Popen's (Optional) pipes are never None.
    return cast(
        ChildProcess,
        subprocess.Popen(
            list(command or [sys.executable, "-m", child.__name__]),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=(message_fd,),
            start_new_session=True,
            env=env,
        ),
    )


class ForkedChild:
    """A child started by ``os.fork()`` without exec, with ``Popen``'s returncode semantics."""

    def __init__(self, env: Mapping[str, str], message_fd: int, resolved: Mapping[str, Operator]) -> None:
        stdin_read, stdin_write = os.pipe()
        stdout_read, stdout_write = os.pipe()
        for stream in (sys.stdout, sys.stderr):  # else the child would write the parent's buffered output again
            try:
                stream.flush()
            except (AttributeError, OSError, ValueError):
                pass
        try:
            pid = os.fork()
        except OSError:
            for fd in (stdin_read, stdin_write, stdout_read, stdout_write):
                os.close(fd)
            raise
        if pid == 0:
            _run_forked_child(stdin_read, stdout_write, message_fd, env, resolved)
        os.close(stdin_read)
        os.close(stdout_write)
        self.pid = pid
        # Pipes to the child for its whole life; the executor closes them once it exited.
        self.stdin: IO[bytes] = open(stdin_write, "wb")  # noqa: SIM115
        self.stdout: IO[bytes] = open(stdout_read, "rb")  # noqa: SIM115
        self.returncode: int | None = None
        self._wait_lock = threading.Lock()  # one waitpid at a time (the watch loop and a terminating thread both poll)

    def poll(self) -> int | None:
        """The exit code if the child has exited (it is reaped then), else None."""
        if self.returncode is None and self._wait_lock.acquire(blocking=False):  # busy: another thread is waiting
            try:
                self._reap(os.WNOHANG)
            finally:
                self._wait_lock.release()
        return self.returncode

    def wait(self) -> int:
        with self._wait_lock:
            self._reap(0)
        returncode = self.returncode
        assert returncode is not None  # _reap(0) returns once the child was reaped
        return returncode

    def _reap(self, options: int) -> None:
        if self.returncode is not None:
            return
        try:
            pid, status = os.waitpid(self.pid, options)
        except ChildProcessError:  # reaped by someone else (SIGCHLD ignored): the status is lost, as Popen says 0
            self.returncode = 0
            return
        if pid == self.pid:
            self.returncode = os.waitstatus_to_exitcode(status)


def _run_forked_child(
    stdin_fd: int, stdout_fd: int, message_fd: int, env: Mapping[str, str], resolved: Mapping[str, Operator]
) -> NoReturn:
    """Turn the fork into what a spawned child is, then run ``child.main()``; never returns, so
    the parent's frames (finally blocks, context managers) and atexit handlers never run here.
    Only this thread survived the fork: nothing the parent's threads own is used."""
    try:
        gc.freeze()  # parent garbage is never collected here (see _PARENT_OBJECTS)
        os.setsid()
        os.dup2(stdin_fd, 0)
        os.dup2(stdout_fd, 1)
        os.dup2(stdout_fd, 2)
        _blank_inherited_fds(keep=message_fd)
        _reset_signals()
        os.environ.clear()
        os.environ.update(env)
        _blank_initial_environment()
        credential_holders.forget_all()
        _fresh_standard_streams()
        _forget_parent_state()
        child.main(resolved)  # exits the process itself
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(1)  # reached only when setting up or main() failed


def _blank_inherited_fds(keep: int) -> None:
    """Point every inherited descriptor but 0-2 and ``keep`` at /dev/null rather than closing it.
    A parent object the child still holds (a plugin's module-level connection, Airflow's
    supervisor channel) then writes into /dev/null and reads end of file; a closed number could be
    reused by a descriptor the child opens later (its MongoDB socket) and receive those writes."""
    listing = "/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd"
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (int(name) for name in os.listdir(listing)):
        if fd > 2 and fd not in (keep, devnull):
            os.dup2(devnull, fd, inheritable=False)
    os.close(devnull)


def _blank_initial_environment() -> None:
    """Zero the environment block the process started with (the kernel shows it as
    ``/proc/self/environ``; a fork copies it). Nothing points into it once ``os.environ`` was
    replaced: the C library's environment then lives elsewhere."""
    try:
        with open("/proc/self/stat", "rb") as stat:
            fields = stat.read().rpartition(b")")[2].split()
        start, end = int(fields[47]), int(fields[48])  # env_start, env_end (fields 50 and 51 of proc(5))
        with open("/proc/self/mem", "r+b", buffering=0) as memory:
            memory.seek(start)
            memory.write(bytes(end - start))
    except (OSError, ValueError, IndexError):  # no procfs (not Linux): nothing shows the block
        pass


def _reset_signals() -> None:
    """The handlers a fresh interpreter has, instead of the parent's (Airflow's SIGTERM, ...)."""
    signal.set_wakeup_fd(-1)
    for signum in signal.valid_signals():
        if signum in _FRESH_HANDLERS or callable(signal.getsignal(signum)):
            signal.signal(signum, _FRESH_HANDLERS.get(signum, signal.SIG_DFL))


def _fresh_standard_streams() -> None:
    """Unbuffered text streams on fds 1 and 2 (the log is live); ``child.main`` sets up stdin."""
    _PARENT_OBJECTS.extend((sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__))
    # typeshed declares sys.__stdout__/__stderr__ Final; the forked child must replace them (the
    # parent's objects wrap fds the child may reuse), as a fresh interpreter would have its own.
    sys.stdout = sys.__stdout__ = _text_writer(1, "strict")  # type: ignore[misc]
    sys.stderr = sys.__stderr__ = _text_writer(2, "backslashreplace")  # type: ignore[misc]


def _text_writer(fd: int, errors: str) -> io.TextIOWrapper:
    raw = io.FileIO(fd, "w", closefd=False)
    return io.TextIOWrapper(raw, encoding="utf-8", errors=errors, line_buffering=True, write_through=True)


def _forget_parent_state() -> None:
    """Drop what points at the parent's file descriptors: log handlers (Airflow's write to its
    supervisor), structlog's configuration and faulthandler's file. (The cached MongoDB clients are
    dropped by ``database``'s own at-fork hook: a pymongo client must never cross a fork.)"""
    loggers = [logging.getLogger()] + [
        item for item in logging.Logger.manager.loggerDict.values() if isinstance(item, logging.Logger)
    ]
    for logger in loggers:
        if logger.handlers:
            _PARENT_OBJECTS.extend(logger.handlers)
            logger.handlers.clear()
            logger.propagate = True  # its records reach the operation's log through the root logger
    if "structlog" in sys.modules:
        sys.modules["structlog"].reset_defaults()
    if faulthandler.is_enabled():
        faulthandler.enable(sys.stderr)
