"""Plugins: definitions, registry, the Operator/ExecutionContext types, permissions. No Airflow import."""

from fiftyops_provider.plugins.context import ExecutionContext
from fiftyops_provider.plugins.errors import (
    InvalidParams,
    InvalidPlugin,
    OperationTerminated,
    OperatorDisabled,
    OperatorNotFound,
    PermissionDenied,
    PluginAlreadyInstalled,
    PluginError,
    PluginNotFound,
)
from fiftyops_provider.plugins.inputs import InputField, Inputs
from fiftyops_provider.plugins.operator import Operator, OperatorConfig, PipelineOperator
from fiftyops_provider.plugins.pipeline import Pipeline, PipelineExecutionContext, PipelineStage

__all__ = [
    "ExecutionContext",
    "InputField",
    "Inputs",
    "InvalidParams",
    "InvalidPlugin",
    "OperationTerminated",
    "Operator",
    "OperatorConfig",
    "OperatorDisabled",
    "OperatorNotFound",
    "PermissionDenied",
    "Pipeline",
    "PipelineExecutionContext",
    "PipelineOperator",
    "PipelineStage",
    "PluginAlreadyInstalled",
    "PluginError",
    "PluginNotFound",
]
