"""Settings read from the environment, in one place, so every entry point agrees on them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATABASE_NAME = "fiftyops"
DEFAULT_EMBEDDED_PORT = 27217


@dataclass(frozen=True)
class Settings:
    """Where FiftyOps keeps its data.

    ``database_uri`` is None when the user configured no MongoDB: the embedded mongod is used then.
    ``child_start`` is None when unset: the executor forks where it can.
    """

    database_uri: str | None
    database_name: str
    home: Path
    log_dir: Path
    plugin_cache_dir: Path
    embedded_db_path: Path
    embedded_port: int
    user: str | None
    child_start: str | None  # FIFTYOPS_CHILD_START; validated by execution.child_process.start_method


def load_settings() -> Settings:
    """Read ``FIFTYOPS_*`` variables; called at use time so tests and the CLI can change them."""
    home = Path(os.environ.get("FIFTYOPS_HOME", "~/.fiftyops")).expanduser()
    return Settings(
        database_uri=os.environ.get("FIFTYOPS_DATABASE_URI") or None,
        database_name=os.environ.get("FIFTYOPS_DATABASE_NAME") or DEFAULT_DATABASE_NAME,
        home=home,
        log_dir=Path(os.environ.get("FIFTYOPS_LOG_PATH") or home / "logs").expanduser(),
        plugin_cache_dir=Path(os.environ.get("FIFTYOPS_PLUGIN_CACHE") or home / "plugins").expanduser(),
        embedded_db_path=Path(os.environ.get("FIFTYOPS_DB_PATH") or home / "db").expanduser(),
        embedded_port=int(os.environ.get("FIFTYOPS_DB_PORT") or DEFAULT_EMBEDDED_PORT),
        user=os.environ.get("FIFTYOPS_USER") or None,
        child_start=os.environ.get("FIFTYOPS_CHILD_START") or None,
    )
