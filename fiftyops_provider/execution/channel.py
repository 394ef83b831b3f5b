"""The parent <-> child wire format: BSON documents back to back on a pipe.

BSON (not JSON) because request params and results may hold dates and ObjectIds, and because a
result that BSON cannot encode could not be stored on the operation document either: encoding it
in the child is the check.

parent -> child (the child's stdin): a ``spec`` message, then ``terminate`` messages. End of file
means the parent is gone.
child -> parent (an inherited pipe): ``progress`` messages and one ``outcome`` message.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Mapping
from typing import IO, Any

import bson

SPEC = "spec"
TERMINATE = "terminate"
PROGRESS = "progress"
OUTCOME = "outcome"


def write_message(stream: IO[bytes], kind: str, **fields: Any) -> None:
    """Send one message; raises ``bson.errors.InvalidDocument`` if a value cannot be encoded."""
    data = bson.encode({"kind": kind, **fields})
    stream.write(data)
    stream.flush()


def read_message(stream: IO[bytes]) -> Mapping[str, Any] | None:
    """The next message, or None at end of stream (a truncated message counts as the end)."""
    header = _read_exact(stream, 4)
    if header is None:
        return None
    body = _read_exact(stream, int.from_bytes(header, "little") - 4)
    if body is None:
        return None
    return bson.decode(header + body)


class Lifeline(threading.Thread):
    """In a child: reads the executor's requests; the executor's end of the pipe closing means it
    is gone, and the child's whole process group is killed. ``reason`` is set by the first
    termination request."""

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__(name="fiftyops-lifeline", daemon=True)
        self.stream = stream
        self.reason: str | None = None

    def run(self) -> None:
        while (message := read_message(self.stream)) is not None:
            if message.get("kind") == TERMINATE and self.reason is None:
                self.reason = str(message.get("reason") or "terminated")
        os.killpg(os.getpgrp(), signal.SIGKILL)


def _read_exact(stream: IO[bytes], size: int) -> bytes | None:
    chunks = []
    while size > 0:
        chunk = stream.read(size)
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)
