"""Executing delegated operations: claim, run in a watched child process, record the outcome.

The store imports this package lazily (``DelegatedOperationService.execute_operation``); no
Airflow import here. The Airflow operator uses ``Executor`` directly.
"""

from fiftyops_provider.execution.api import execute_operation, execute_queued_operations, make_executor
from fiftyops_provider.execution.executor import Executor, OutcomeState, RunOutcome, echo_to_stdout
from fiftyops_provider.execution.launcher import run_launcher
from fiftyops_provider.execution.logcapture import LOG_VIEW_LIMIT_BYTES, default_log_path, log_is_download_only
from fiftyops_provider.execution.reaper import ReapedOperation, reap_stale_operations
from fiftyops_provider.execution.secrets import SecretsSource, resolve_secrets
from fiftyops_provider.execution.sources import DEFAULT_OPERATOR_SOURCE, OperatorSource, RegistrySource, build_source

__all__ = [
    "DEFAULT_OPERATOR_SOURCE",
    "LOG_VIEW_LIMIT_BYTES",
    "Executor",
    "OperatorSource",
    "OutcomeState",
    "ReapedOperation",
    "RegistrySource",
    "RunOutcome",
    "SecretsSource",
    "build_source",
    "default_log_path",
    "echo_to_stdout",
    "execute_operation",
    "execute_queued_operations",
    "log_is_download_only",
    "make_executor",
    "reap_stale_operations",
    "resolve_secrets",
    "run_launcher",
]
