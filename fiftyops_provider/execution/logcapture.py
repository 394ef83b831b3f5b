"""Per-operation log capture: one file per operation, a live tail for the document, secrets masked.

The file is ``$FIFTYOPS_LOG_PATH/YYYY/MM/DD/<operation id>.log`` (default
``~/.fiftyops/logs/...``), dated by the operation's creation so every attempt appends to the same
file. Readers show logs up to ``LOG_VIEW_LIMIT_BYTES`` inline; bigger logs are download-only
(``log_is_download_only``), as in FiftyOne's Runs page.
"""

from __future__ import annotations

import codecs
import logging
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import IO

from bson import ObjectId

from fiftyops_provider.config import Settings, load_settings
from fiftyops_provider.execution.secrets import Masker

logger = logging.getLogger(__name__)

LOG_VIEW_LIMIT_BYTES = 1024 * 1024
TAIL_LINES = 100
TAIL_MAX_CHARS = 16_000


def default_log_path(operation_id: ObjectId, settings: Settings | None = None) -> Path:
    """Where the executor captures an operation's output."""
    settings = settings or load_settings()
    day = operation_id.generation_time
    return settings.log_dir / f"{day:%Y}" / f"{day:%m}" / f"{day:%d}" / f"{operation_id}.log"


def log_is_download_only(log_size: int | None) -> bool:
    """True when a log is too big to show inline (readers offer a download instead)."""
    return log_size is not None and log_size > LOG_VIEW_LIMIT_BYTES


class LogCapture:
    """Collects an operation's output lines: masks them, appends them to the log file, keeps the
    last lines for ``log_tail`` and optionally echoes them (to an orchestrator's own task log).

    Writing the file is best effort: the first failure is kept in ``error`` (the executor stores
    it as ``log_upload_error``) and capture goes on in memory, so a full disk never fails a run.
    Lines come from several threads (the child's output pump, the executor's own messages).
    """

    def __init__(self, path: Path, echo: Callable[[str], None] | None = None) -> None:
        self.path = path
        self.echo = echo
        self.error: str | None = None
        self.size: int | None = None
        self.mask = Masker()
        self._file: IO[bytes] | None = None
        self._tail: deque[str] = deque(maxlen=TAIL_LINES)
        self._lock = threading.Lock()
        self.version = 0  # bumped per line, so the executor refreshes log_tail only on change
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._held = ""  # the unwritten end of a piece of a long line (see feed)

    def open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "ab")  # noqa: SIM115 (open for the run; close() closes it)
            self.size = self._file.tell()
        except OSError as exc:
            self.error = f"Cannot write the log file {self.path}: {exc}"

    def mask_secrets(self, masker: Masker) -> None:
        self.mask = masker

    def feed(self, chunk: bytes) -> None:
        """Take raw output as the child's output pump reads it: a whole line, or a piece of a
        line longer than the pump's read size (then without its newline), or b"" at the end.

        A secret may straddle two pieces, and a UTF-8 character may too: the piece is decoded
        incrementally, masked together with what was held back from the previous piece, and its
        last ``longest - 1`` characters are held back again, so every secret is masked whole."""
        text = self._held + self._decoder.decode(chunk, final=not chunk)
        self._held = ""
        if not text:
            return
        if text.endswith("\n") or not chunk:
            self.write(text)
            return
        masked = self.mask(text)
        keep = max(self.mask.longest - 1, 0)
        if keep and len(masked) > keep:
            masked, self._held = masked[:-keep], masked[-keep:]
        elif keep:
            self._held = masked
            return
        self._write_masked(masked)

    def write(self, line: str) -> None:
        self._write_masked(self.mask(line.rstrip("\r\n")))

    def _write_masked(self, line: str) -> None:
        line = line.rstrip("\r\n")
        with self._lock:
            self._tail.append(line)
            self.version += 1
            if self._file is not None:
                data = (line + "\n").encode("utf-8", "replace")
                try:
                    self._file.write(data)
                    self._file.flush()
                    self.size = (self.size or 0) + len(data)
                except OSError as exc:
                    self.error = f"Writing the log file {self.path} failed: {exc}"
                    self._close_file()
        if self.echo is not None:
            try:
                self.echo(line)
            except Exception:  # a broken echo must not stop the capture (the child would block)
                logger.warning("Echoing the output of %s failed; echo stopped", self.path, exc_info=True)
                self.echo = None

    def tail(self) -> str:
        with self._lock:
            text = "\n".join(self._tail)
        return text[-TAIL_MAX_CHARS:]

    def close(self) -> None:
        with self._lock:
            self._close_file()

    def _close_file(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except OSError as exc:
                self.error = self.error or f"Closing the log file {self.path} failed: {exc}"
            self._file = None
