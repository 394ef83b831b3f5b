"""The child process that runs one FiftyOne operator, in the FiftyOne interpreter
(``[fiftyops] fiftyone_python``), with FiftyOne's own executor.

Run as ``<fiftyone python> fiftyone_child.py`` (by path: FiftyOne's venv cannot import the
provider, whose pins conflict with FiftyOne's). It imports nothing of the provider but the wire
format (``channel``, which needs only ``bson``), and speaks it exactly like ``child``: the spec
and termination requests on stdin (end of file: the executor is gone, so the child kills its own
process group), progress and one outcome on the message pipe. It never writes the operation
document; the executor keeps the claim, heartbeat, timeout, termination and the outcome's
compare-and-set.

The run follows FiftyOne's ``DelegatedOperationService._execute_operator``:
``prepare_operator_executor`` (registry lookup, ``ExecutionContext`` with a real ``fo.Dataset``,
plugin secrets, input validation), then ``do_execute_operator(..., exhaust=True)``, then the
outputs schema with ``resolve_type_with_context``.

``python fiftyone_child.py --list`` prints (JSON) the FiftyOne operators that allow delegated
execution, for the dispatcher's routing and the DAG factory.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import sys
import threading
import traceback
from typing import IO, Any

_HERE = os.path.dirname(os.path.abspath(__file__))
# Run by path, Python put this directory first on sys.path, where its modules (secrets.py, ...)
# would shadow the standard library's for FiftyOne: take it off, and load the wire format by path.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
_spec = importlib.util.spec_from_file_location("fiftyops_channel", os.path.join(_HERE, "channel.py"))
assert _spec is not None and _spec.loader is not None
channel = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(channel)
OUTCOME, PROGRESS, SPEC = channel.OUTCOME, channel.PROGRESS, channel.SPEC
Lifeline, read_message, write_message = channel.Lifeline, channel.read_message, channel.write_message


def list_delegable_operators() -> list[dict[str, Any]]:
    """Every enabled FiftyOne operator that allows delegated execution."""
    import fiftyone.operators as foo

    listed = []
    for operator in foo.list_operators(enabled=True, type="operator"):
        config = operator.config
        if not getattr(config, "allow_delegated_execution", False):
            continue
        listed.append(
            {
                "uri": operator.uri,
                "plugin_name": operator.plugin_name,
                "name": config.name,
                "label": config.label or config.name,
                "description": config.description,
                "secrets": list(getattr(operator, "_plugin_secrets", None) or []),
            }
        )
    return listed


async def _execute(spec: dict[str, Any], messages: IO[bytes], lock: threading.Lock) -> dict[str, Any]:
    from bson import ObjectId
    from fiftyone.operators.executor import (
        ExecutionResult,
        do_execute_operator,
        prepare_operator_executor,
        resolve_type_with_context,
    )

    def set_progress(_operation_id: Any, progress: Any) -> None:
        value = getattr(progress, "progress", None)
        label = getattr(progress, "label", None)
        with lock:
            write_message(messages, PROGRESS, progress=value, label=label)

    request_params = dict(spec["request_params"])
    prepared = await prepare_operator_executor(
        operator_uri=spec["operator"],
        request_params=request_params,
        delegated_operation_id=ObjectId(spec["operation_id"]),  # as FiftyOne passes it
        set_progress=set_progress,
    )
    if isinstance(prepared, ExecutionResult):
        raise prepared.to_exception()
    operator, _executor, ctx, _inputs = prepared
    result = await do_execute_operator(operator, ctx, exhaust=True)
    outputs_schema = None
    try:
        ctx.request_params["target"] = "outputs"
        ctx.request_params["results"] = result
        outputs = await resolve_type_with_context(operator, ctx)
        if outputs is not None:
            outputs_schema = outputs.to_json()
    except Exception:  # as FiftyOne: an outputs schema that cannot be resolved is not an error
        print("Could not resolve the outputs schema:\n" + traceback.format_exc(), flush=True)
    return {"ok": True, "result": result, "outputs_schema": outputs_schema}


def _failure(exc: BaseException, terminated: bool) -> dict[str, Any]:
    return {
        "ok": False,
        "error": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
        "error_message": f"{type(exc).__name__}: {exc}",
        "terminated": terminated,
    }


def main() -> None:
    if sys.argv[1:] == ["--list"]:
        json.dump(list_delegable_operators(), sys.stdout)
        return
    control = os.fdopen(os.dup(0), "rb")  # moved off fd 0, so operator code never reads it
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    spec = read_message(control)
    if spec is None or spec.get("kind") != SPEC:
        print("fiftyone child: no spec on stdin; this process is started by the FiftyOps executor", file=sys.stderr)
        os._exit(2)
    # FiftyOps' database, from the spec (not inherited through the environment), before fiftyone
    # is imported: it reads its database settings at import.
    os.environ["FIFTYONE_DATABASE_URI"] = spec["database"]["uri"]
    os.environ["FIFTYONE_DATABASE_NAME"] = spec["database"]["name"]
    messages = os.fdopen(spec["message_fd"], "wb")
    lock = threading.Lock()
    lifeline = Lifeline(control)
    lifeline.start()
    try:
        outcome = asyncio.run(_execute(dict(spec), messages, lock))
    except BaseException as exc:  # SystemExit/KeyboardInterrupt raised by operator code included
        outcome = _failure(exc, terminated=lifeline.reason is not None)
        print(outcome["error"], flush=True)
    try:
        with lock:
            try:
                write_message(messages, OUTCOME, **outcome)
            except Exception as exc:  # a result BSON cannot hold
                message = f"The operator's result cannot be stored: {exc}. Return JSON-like data."
                write_message(messages, OUTCOME, ok=False, error=message, error_message=message, terminated=False)
    except OSError:
        pass  # the executor is gone
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
