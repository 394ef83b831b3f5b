"""Validating a plugin's code in a child process, never in the process that installs it.

Installing must import the plugin's entry and call its ``register(p)`` to learn its operators.
Doing that in the caller (the CLI, the SDK, a notebook) would run an uploaded module's top-level
code there: a refused archive would already have run, a ``register()`` that never returns would
hang the caller, and ``os._exit(0)`` at import would end it "successfully" with nothing
installed. So the import runs in a fresh interpreter:

* with the allow-listed environment an operator gets (``execution.child_env``) and no secret, so
  the plugin's import-time code sees no database or Airflow credential;
* in a session of its own, killed as a whole (with anything it started) when it is done or when
  ``timeout`` seconds have passed (``FIFTYOPS_PLUGIN_VALIDATION_TIMEOUT``, default 60);
* reporting through a result file it writes only after ``register()`` returned: a child that
  exits without one (whatever its exit code) crashed, and the install is refused.

The child sends back what the registry stores of each operator (label, config, inputs schema),
so the caller never holds an operator object. A FiftyOne plugin goes through the same steps with
the FiftyOne interpreter's child (``execution.fiftyone_child``) in place of this module's.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from fiftyops_provider.execution.child_env import child_environment, parse_allowlist
from fiftyops_provider.plugins.context import ExecutionContext
from fiftyops_provider.plugins.definition import PluginDefinition, parse_definition
from fiftyops_provider.plugins.errors import InvalidPlugin
from fiftyops_provider.plugins.loader import load_plugin
from fiftyops_provider.plugins.operator import Operator

STDERR_LINES = 20  # of a crashed child's output, in the error


def validate_plugin(
    root: Path,
    definition: PluginDefinition,
    content_hash: str,
    timeout: float,
    env_allowlist: str | None = None,
    command: list[str] | None = None,
    extra_env: dict[str, str] | None = None,
) -> dict[str, dict[str, Any]]:
    """``{operator name: what the registry stores of it}`` for the plugin unpacked at ``root``,
    learned by importing it in a child process; ``InvalidPlugin`` with a one-line reason (plus
    the plugin's traceback, if it raised) when it cannot be imported, crashes or hangs.

    :param command: the child's command; default: this interpreter running ``main()``. A FiftyOne
        plugin is validated by the FiftyOne interpreter's child (``fiftyone_child.py --validate``),
        which reads the same request and writes the same result file.
    :param extra_env: what that interpreter needs in its environment besides the allow-list.
    """
    with tempfile.TemporaryDirectory(prefix="fiftyops-validate-") as scratch:
        result_path = Path(scratch) / "result.json"
        request = {"root": str(root), "content_hash": content_hash, "sys_path": sys.path, "result": str(result_path)}
        process = subprocess.Popen(
            command or [sys.executable, "-m", __name__],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=scratch,
            env={**child_environment(os.environ, {}, parse_allowlist(env_allowlist)), **(extra_env or {})},
            start_new_session=True,
        )
        try:
            _, stderr = process.communicate(json.dumps(request).encode(), timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_session(process)
            raise InvalidPlugin(
                f"{definition.name}: importing {definition.py_entry} and calling register() did not finish within "
                f"{timeout:g} s and was stopped; move slow or blocking work out of import time and register(), "
                "or raise FIFTYOPS_PLUGIN_VALIDATION_TIMEOUT."
            ) from None
        finally:
            _kill_session(process)
        if not result_path.exists():
            last = " | ".join(stderr.decode(errors="replace").strip().splitlines()[-STDERR_LINES:])
            raise InvalidPlugin(
                f"{definition.name}: the process importing {definition.py_entry} ended "
                f"(exit code {process.returncode}) before register() finished; does the plugin exit or crash at import?"
                + (f" Its output: {last}" if last else "")
            )
        result = json.loads(result_path.read_text())
    if not result["ok"]:
        raise InvalidPlugin(result["error"])
    return result["operators"]


def _kill_session(process: subprocess.Popen) -> None:
    """SIGKILL the child's session (the child and anything it started), then reap the child."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()


def describe_operator(operator: Operator) -> dict[str, Any]:
    """What the registry stores of an operator, so nobody has to import it to list it."""
    config = operator.config
    return {
        "label": config.label,
        "description": config.description,
        "config": config.to_json(),
        "inputs_schema": _inputs_schema(operator),
        "delegation_capable": bool(config.allow_delegated_execution),
    }


def _inputs_schema(operator: Operator) -> dict[str, Any] | None:
    """The inputs as declared without a dataset (dynamic inputs may need one: then None)."""
    try:
        inputs = operator.resolve_input(ExecutionContext({}))
    except Exception:
        return None
    return inputs.to_json() if inputs is not None else None


def main() -> None:
    """The child: import the plugin, describe its operators, write the result file."""
    request = json.loads(sys.stdin.read())
    sys.path[:] = list(request["sys_path"])
    root = Path(request["root"])
    definition = parse_definition(root)
    try:
        loaded = load_plugin(root, definition, request["content_hash"])
        result: dict[str, Any] = {
            "ok": True,
            "operators": {name: describe_operator(op) for name, op in loaded.operators.items()},
        }
        text = json.dumps(result)
    except InvalidPlugin as exc:
        text = json.dumps({"ok": False, "error": str(exc)})
    except (TypeError, ValueError) as exc:  # a config or schema that cannot be stored
        text = json.dumps(
            {"ok": False, "error": f"{definition.name}: an operator's config or inputs cannot be stored: {exc}"}
        )
    Path(request["result"]).write_text(text)
    os._exit(0)  # no interpreter shutdown: plugin threads or atexit handlers must not hold the install


if __name__ == "__main__":
    main()
