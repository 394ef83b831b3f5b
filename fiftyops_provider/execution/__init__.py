"""Executing delegated operations: claim, run in a watched child process, record the outcome.

The store imports this package lazily (``DelegatedOperationService.execute_operation``); no
Airflow import here. The Airflow operator uses ``Executor`` directly.

The names below are imported on first use (PEP 562): the operation's child process,
``python -m fiftyops_provider.execution.child``, starts once per operation and needs none of the
executor side, whose imports would add a tenth of a second to every run.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "execute_operation": "entrypoints",
    "execute_queued_operations": "entrypoints",
    "make_executor": "entrypoints",
    "Executor": "executor",
    "OutcomeState": "executor",
    "RunOutcome": "executor",
    "echo_to_stdout": "executor",
    "run_launcher": "launcher",
    "LOG_VIEW_LIMIT_BYTES": "logcapture",
    "default_log_path": "logcapture",
    "log_is_download_only": "logcapture",
    "ReapedOperation": "reaper",
    "reap_stale_operations": "reaper",
    "SecretsSource": "secrets",
    "resolve_secrets": "secrets",
    "DEFAULT_OPERATOR_SOURCE": "sources",
    "OperatorSource": "sources",
    "RegistrySource": "sources",
    "build_source": "sources",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value
