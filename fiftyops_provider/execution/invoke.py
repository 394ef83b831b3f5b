"""Calling an operator inside the child process: validated inputs, any ``execute`` flavour, outputs.

Shared by plain runs and pipeline stages so both treat operators the same way.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

from fiftyops_provider.plugins.context import ExecutionContext
from fiftyops_provider.plugins.operator import Operator


def validate_inputs(operator: Operator, ctx: ExecutionContext) -> None:
    """Replace ``ctx.params`` with the validated params (defaults filled in); raises
    ``InvalidParams`` listing every problem."""
    inputs = operator.resolve_input(ctx)
    if inputs is not None:
        ctx.request_params["params"] = inputs.validate(ctx.params)


def call_execute(operator: Operator, ctx: ExecutionContext) -> Any:
    """Run ``execute`` whether it is a function, a coroutine function or a (async) generator.

    Generators are exhausted and return None, as in FiftyOne.
    """
    value = operator.execute(ctx)
    if inspect.isawaitable(value):
        return asyncio.run(_await(value))
    if inspect.isgenerator(value):
        for _ in value:
            pass
        return None
    if inspect.isasyncgen(value):
        asyncio.run(_drain(value))
        return None
    return value


async def _await(value: Any) -> Any:
    return await value


async def _drain(agen: Any) -> None:
    async for _ in agen:
        pass


def resolve_outputs_schema(operator: Operator, ctx: ExecutionContext) -> dict[str, Any] | None:
    """``operator.resolve_output(ctx).to_json()`` or None; a failure is logged, never fatal (the
    work is done by then)."""
    try:
        outputs = operator.resolve_output(ctx)
        return outputs.to_json() if outputs is not None else None
    except Exception:
        ctx.logger.warning("resolve_output failed; the run has no outputs schema", exc_info=True)
        return None


def as_result_document(value: Any) -> dict[str, Any] | None:
    """``result.result`` must be a dict or null for FiftyOne readers; other values are wrapped as
    ``{"value": ...}``."""
    if value is None or isinstance(value, dict):
        return value
    return {"value": value}
