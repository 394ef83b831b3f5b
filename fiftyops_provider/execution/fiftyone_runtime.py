"""The FiftyOne runtime: FiftyOne's own operators, run in FiftyOne's own interpreter.

``fiftyone`` pins packages that conflict with Airflow's (pymongo, starlette), so it lives in a
venv of its own (``scripts/bootstrap_fiftyone.sh``), named by ``FIFTYOPS_FIFTYONE_PYTHON`` (Airflow:
``[fiftyops] fiftyone_python``), the way Airflow's ``ExternalPythonOperator`` runs a task in another
venv. An operation of a FiftyOne operator runs in a child started with that interpreter
(``fiftyone_child.py``) while the executor keeps everything around it, as for any operation.
FiftyOne plugins installed in the FiftyOps registry (``plugins.fiftyone_plugins``) are validated
and run by the same interpreter, from the registry's copy of the version to run.

Which operators FiftyOne has is asked of that interpreter once (a child with a time limit) and
kept in a file keyed by the interpreter and its installed packages, so every task and dispatcher
process after the first knows at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fiftyops_provider.plugins.errors import PluginError

CHILD_SCRIPT = Path(__file__).with_name("fiftyone_child.py")
LIST_TIMEOUT_SECONDS = 180.0
LISTING_FORMAT = "v2"  # bumped when the child's --list output changes (v2: inputs_schema)
_listed: dict[str, list[dict[str, Any]]] = {}
_lock = threading.Lock()


class FiftyOneRuntimeError(PluginError):
    """The FiftyOne interpreter is missing or broken; the message says how to fix it."""


@dataclass(frozen=True)
class FiftyOneRuntime:
    """The FiftyOne interpreter at ``python``."""

    python: str

    def child_command(self, plugin_root: Path | None = None) -> list[str]:
        """The command of an operation's child process.

        :param plugin_root: the materialized registry copy of the FiftyOne plugin to run it from;
            None for FiftyOne's own operators.
        """
        return [self.python, str(CHILD_SCRIPT), *(["--plugin", str(plugin_root)] if plugin_root else [])]

    def validation_command(self) -> list[str]:
        """The command of the child that validates a FiftyOne plugin (``plugins.validation``)."""
        return [self.python, str(CHILD_SCRIPT), "--validate"]

    @staticmethod
    def child_environment() -> dict[str, str]:
        """FiftyOne's settings for the child. The database (FiftyOps', so FiftyOne's bundled
        mongod never starts) comes with the spec, like any child's, never through the
        environment: the child sets ``FIFTYONE_DATABASE_URI``/``NAME`` itself."""
        return {"FIFTYONE_DATABASE_ADMIN": "true", "FIFTYONE_DO_NOT_TRACK": "true"}

    def operators(self, cache_dir: Path) -> list[dict[str, Any]]:
        """The FiftyOne operators that allow delegated execution: ``{uri, plugin_name, name,
        label, description, secrets, inputs_schema}`` each (the schema None when the inputs
        depend on the dataset). Raises ``FiftyOneRuntimeError``."""
        key = self._cache_key()
        with _lock:
            if key in _listed:
                return _listed[key]
            cache = cache_dir / f"fiftyone-operators-{LISTING_FORMAT}-{key}.json"
            try:
                listed = json.loads(cache.read_text())
            except (OSError, ValueError):
                listed = self._ask()
                cache_dir.mkdir(parents=True, exist_ok=True)
                partial = cache.with_suffix(f".{os.getpid()}.tmp")
                partial.write_text(json.dumps(listed))
                partial.replace(cache)
            _listed[key] = listed
            return listed

    def _cache_key(self) -> str:
        """Changes when the interpreter, its installed packages or FiftyOne's plugins directory
        (``FIFTYONE_PLUGINS_DIR``) change."""
        try:
            site = _site_packages(self.python)
            stamp = f"{os.path.realpath(self.python)}:{os.stat(self.python).st_mtime_ns}:{os.stat(site).st_mtime_ns}"
            plugins = os.environ.get("FIFTYONE_PLUGINS_DIR")
            if plugins and os.path.isdir(plugins):
                stamp += f":{os.path.realpath(plugins)}:{os.stat(plugins).st_mtime_ns}"
        except OSError as exc:
            raise FiftyOneRuntimeError(
                f"The FiftyOne interpreter {self.python!r} does not exist ({exc}): set fiftyone_python to the "
                "python of a venv with fiftyone installed (scripts/bootstrap_fiftyone.sh builds one)."
            ) from None
        return hashlib.sha256(stamp.encode()).hexdigest()[:16]

    def _ask(self) -> list[dict[str, Any]]:
        try:
            done = subprocess.run(
                [*self.child_command(), "--list"],
                capture_output=True,
                text=True,
                timeout=LIST_TIMEOUT_SECONDS,
                env={**os.environ, "FIFTYONE_DO_NOT_TRACK": "true"},
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise FiftyOneRuntimeError(
                f"The FiftyOne interpreter {self.python!r} could not list operators: {exc}"
            ) from None
        if done.returncode != 0:
            tail = done.stderr.strip().splitlines()[-1:] or ["(no output)"]
            raise FiftyOneRuntimeError(
                f"The FiftyOne interpreter {self.python!r} could not list operators: {tail[0]}. "
                "Is fiftyone installed there (scripts/bootstrap_fiftyone.sh)?"
            )
        return json.loads(done.stdout)


def _site_packages(python: str) -> str:
    """The venv's ``lib/pythonX.Y/site-packages`` next to ``python`` (found without starting the
    interpreter); the venv directory itself when the layout is not a venv's."""
    venv = Path(python).parent.parent
    found = sorted(venv.glob("lib/python*/site-packages"))
    return str(found[0] if found else venv)


def configured_runtime(python: str | None) -> FiftyOneRuntime | None:
    """The runtime for ``python`` (``FIFTYOPS_FIFTYONE_PYTHON``); None when not configured."""
    return FiftyOneRuntime(python) if python else None
