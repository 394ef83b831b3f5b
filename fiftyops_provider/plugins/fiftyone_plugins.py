"""FiftyOne plugins in the FiftyOps registry: telling them apart, and the operator type that runs them.

A FiftyOne plugin is a plugin folder like any other (``fiftyone.yml`` + Python) whose code imports
``fiftyone``. Its code can only be imported by the FiftyOne interpreter (``fiftyone_python``:
FiftyOne's pins conflict with Airflow's), so FiftyOps never imports it: the registry validates it
in that interpreter (``validation``, the same child process with a time limit), stores what the
child described, and a run gets a ``FiftyOneOperator`` that names the materialized copy of the
version to run; the executor then starts the FiftyOne child on that copy.

FiftyOne's ``OperatorConfig`` has no ``execution_timeout``, ``on_reset`` or ``max_attempts``, so
an admin sets them per operator (``PluginRegistry.set_operator``, ``POLICY_FIELDS``; for
FiftyOne's own operators too, ``fiftyone_builtins``); unset, a FiftyOne operator gets FiftyOps'
defaults.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fiftyops_provider.plugins.archive import SKIPPED_PARTS
from fiftyops_provider.plugins.context import ExecutionContext
from fiftyops_provider.plugins.inputs import Inputs
from fiftyops_provider.plugins.operator import Operator, OperatorConfig

FIFTYOPS_RUNTIME = "fiftyops"
FIFTYONE_RUNTIME = "fiftyone"
# How to configure the FiftyOne interpreter, for every message that needs one.
RUNTIME_HINT = (
    "set [fiftyops] fiftyone_python (AIRFLOW__FIFTYOPS__FIFTYONE_PYTHON) or FIFTYOPS_FIFTYONE_PYTHON to the "
    "python of a venv with fiftyone (scripts/bootstrap_fiftyone.sh)"
)
# What an admin may set per operator of a FiftyOne plugin (its config declares none of them).
POLICY_FIELDS = ("execution_timeout", "on_reset", "max_attempts")
_IMPORTS_FIFTYONE = re.compile(rb"^\s*(?:import|from)\s+fiftyone(?:[\s.,;]|$)", re.MULTILINE)


def plugin_runtime(root: Path) -> str:
    """``FIFTYONE_RUNTIME`` when any Python file of the plugin imports ``fiftyone`` (read as text,
    so a file with a syntax error still tells), else ``FIFTYOPS_RUNTIME``."""
    for path in sorted(root.rglob("*.py")):
        if SKIPPED_PARTS.isdisjoint(path.relative_to(root).parts) and _IMPORTS_FIFTYONE.search(path.read_bytes()):
            return FIFTYONE_RUNTIME
    return FIFTYOPS_RUNTIME


def effective_config(spec: dict[str, Any]) -> dict[str, Any]:
    """An operator's stored config with the admin's execution policy on top."""
    return {**spec["config"], **spec.get("policy_override", {})}


class FiftyOneOperator(Operator):
    """A FiftyOne operator as FiftyOps sees it: its code runs only in the FiftyOne interpreter.

    :param info: ``uri``, ``plugin_name``, ``name``, ``label``, ``description``; for an operator
        of the registry also ``config`` (its effective config: the policy fields count) and
        ``inputs_schema`` (FiftyOps' JSON schema of the inputs the FiftyOne child could describe).
    :param plugin_root: the materialized copy of the registry version to run; None for FiftyOne's
        own operators (builtins, ``FIFTYONE_PLUGINS_DIR``), which the FiftyOne interpreter finds
        itself.
    """

    def __init__(self, info: dict[str, Any], plugin_root: Path | None = None) -> None:
        self.info = info
        self.plugin_root = plugin_root
        self.plugin_name = info["plugin_name"]

    @property
    def config(self) -> OperatorConfig:
        config = self.info.get("config") or {}
        return OperatorConfig(
            name=self.info["name"],
            label=self.info.get("label") or self.info["name"],
            description=self.info.get("description"),
            allow_delegated_execution=True,
            rerunnable=bool(config.get("rerunnable", True)),
            **{name: config[name] for name in POLICY_FIELDS if config.get(name) is not None},
        )

    def resolve_input(self, ctx: ExecutionContext) -> Inputs | None:
        """The inputs FiftyOne declared with plain types, for ``delegate()`` and the Trigger
        form; FiftyOne validates all of them again when the operation runs."""
        schema = self.info.get("inputs_schema")
        return Inputs.from_json(schema) if schema is not None else None

    def execute(self, ctx: Any) -> Any:
        raise RuntimeError(f"{self.info['uri']} is a FiftyOne operator: it runs in the FiftyOne interpreter.")
