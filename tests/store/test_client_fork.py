"""The per-process client cache across a fork: an operation's child is forked from a task process
that already holds a client, and pymongo clients must never cross a fork."""

from __future__ import annotations

import os

from fiftyops_provider.database import get_client


def test_a_forked_process_connects_with_a_client_of_its_own(mongod):
    parent = get_client(mongod.uri)
    assert parent.admin.command("ping")["ok"] == 1
    pid = os.fork()
    if pid == 0:  # the child reports through its exit code only
        code = 1
        try:
            child = get_client(mongod.uri)
            code = 0 if child is not parent and child.admin.command("ping")["ok"] == 1 else 3
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert get_client(mongod.uri) is parent  # the parent keeps its own
