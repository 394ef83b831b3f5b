"""Settings read from the environment, in one place, so every entry point agrees on them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from fiftyops_provider import credential_holders
from fiftyops_provider.store.routing import DEFAULT_DELEGATION_TARGETS, parse_delegation_targets

DEFAULT_DATABASE_NAME = "fiftyops"
DEFAULT_EMBEDDED_PORT = 27217
DEFAULT_PLUGIN_VALIDATION_TIMEOUT = 60.0


@dataclass(frozen=True)
class Settings:
    """Where FiftyOps keeps its data.

    ``database_uri`` is None when the user configured no MongoDB: the embedded mongod is used then.
    ``child_start`` is None when unset: the executor forks where it can.
    ``child_env_allowlist``: names (``NAME*``: a prefix) an operator's child gets from the
    executor's environment beyond the built-in list (``execution.child_env``).
    ``plugin_validation_timeout``: seconds a plugin's import and ``register()`` may take when it
    is installed (in a child process) before the install is refused.
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
    child_env_allowlist: str | None = None  # FIFTYOPS_CHILD_ENV_ALLOWLIST, comma-separated
    plugin_validation_timeout: float = DEFAULT_PLUGIN_VALIDATION_TIMEOUT  # FIFTYOPS_PLUGIN_VALIDATION_TIMEOUT

    # FIFTYOPS_DELEGATION_TARGETS ("a,b"; default "fiftyops"): the targets this deployment serves
    # (store.routing); delegate() sends to the first. Airflow reads [fiftyops] delegation_targets
    # and falls back to this.
    delegation_targets: tuple[str, ...] = (DEFAULT_DELEGATION_TARGETS,)
    # FIFTYOPS_FIFTYONE_PYTHON: the FiftyOne interpreter that runs FiftyOne's own operators
    # (execution.fiftyone_runtime); None: FiftyOne operators are not run here.
    fiftyone_python: str | None = None

    def __post_init__(self) -> None:
        credential_holders.track(self, _forget_database_uri)


def _forget_database_uri(settings: Settings) -> None:
    object.__setattr__(settings, "database_uri", None)  # frozen: only an operator's forked child does this


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
        child_env_allowlist=os.environ.get("FIFTYOPS_CHILD_ENV_ALLOWLIST") or None,
        plugin_validation_timeout=_positive_seconds(
            "FIFTYOPS_PLUGIN_VALIDATION_TIMEOUT", DEFAULT_PLUGIN_VALIDATION_TIMEOUT
        ),
        delegation_targets=parse_delegation_targets(os.environ.get("FIFTYOPS_DELEGATION_TARGETS")),
        fiftyone_python=os.environ.get("FIFTYOPS_FIFTYONE_PYTHON") or None,
    )


def _positive_seconds(name: str, default: float) -> float:
    value = os.environ.get(name)
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"{name}={value!r} is not a number of seconds above 0; set it to e.g. 60, or unset it.")
    return seconds
