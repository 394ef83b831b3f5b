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

``fiftyone_child.py --plugin DIR`` runs an operator of the FiftyOne plugin installed in the
FiftyOps registry, from DIR, the materialized copy of the version the executor planned with
(FiftyOne's plugins directory is set to DIR, so neither ``FIFTYONE_PLUGINS_DIR`` nor another
version is used). FiftyOne's context gets FiftyOps' kill checkpoint,
``ctx.check_for_termination()``: it raises ``OperationTerminated`` once the operation was asked
to stop (an operator may catch it to save partial work, then re-raise); without one, the executor
kills the child after the grace period.

``python fiftyone_child.py --list`` prints (JSON) the FiftyOne operators that allow delegated
execution, for the dispatcher's routing and the DAG factory.

``python fiftyone_child.py --validate`` is the FiftyOne side of ``plugins.validation``: the same
request on stdin and result file, with the plugin imported by FiftyOne's own ``PluginContext``.
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
                "inputs_schema": _declared_inputs(operator),
            }
        )
    return listed


class OperationTerminated(Exception):
    """Raised by ``ctx.check_for_termination()`` when the operation was asked to stop."""


METADATA_FILENAMES = ("fiftyone.yml", "fiftyone.yaml")  # as plugins.definition (checked before this runs)
# FiftyOne input types the Trigger form and delegate() take, as FiftyOps' JSON-schema types.
_PLAIN_TYPES = {"String": "string", "Boolean": "boolean", "List": "array", "Object": "object"}


def _input_schema(fiftyone_type: dict[str, Any]) -> dict[str, Any]:
    """FiftyOps' schema (``plugins.inputs``) of FiftyOne's ``types.Object`` JSON: the properties of
    plain types (strings, numbers, booleans, enums, lists, objects); the others are left out."""
    properties, required = {}, []
    for name, prop in (fiftyone_type.get("properties") or {}).items():
        kind = prop.get("type") or {}
        view = prop.get("view") or {}
        schema: dict[str, Any] = {"title": view.get("label") or name}
        if kind.get("name") == "Number":
            schema["type"] = "integer" if kind.get("int") else "number"
            bounds = (("minimum", "min"), ("maximum", "max"))
            schema.update({key: kind[src] for key, src in bounds if kind.get(src) is not None})
        elif kind.get("name") == "Enum":
            values = list(kind.get("values") or [])
            plain_ints = all(isinstance(v, int) and not isinstance(v, bool) for v in values)
            schema.update(type="integer" if plain_ints else "string", enum=values)
        elif kind.get("name") in _PLAIN_TYPES:
            schema["type"] = _PLAIN_TYPES[kind["name"]]
        else:
            continue
        if view.get("description"):
            schema["description"] = view["description"]
        if prop.get("default") is not None:
            schema["default"] = prop["default"]
        properties[name] = schema
        if prop.get("required"):
            required.append(name)
    return {"type": "object", "properties": properties, "required": required}


def _declared_inputs(operator: Any) -> dict[str, Any] | None:
    """The operator's inputs as FiftyOps' schema, for ``delegate()`` and the Trigger form; None
    when they cannot be known without a dataset (FiftyOne's builtins): FiftyOne validates them
    when the operation runs."""
    from fiftyone.operators.executor import ExecutionContext

    try:
        declared = operator.resolve_input(ExecutionContext(request_params={}))
        declared = getattr(declared, "type", declared)  # a types.Property around the types.Object
        return _input_schema(declared.to_json()) if declared is not None else None
    except Exception:  # dynamic inputs may need a dataset: then no form
        return None


def _describe(operator: Any) -> dict[str, Any]:
    """What the registry stores of a FiftyOne operator (``validation.describe_operator``'s shape)."""
    config = operator.config
    return {
        "label": config.label or config.name,
        "description": config.description,
        "config": config.to_json(),
        "inputs_schema": _declared_inputs(operator),
        "delegation_capable": bool(config.allow_delegated_execution),
    }


def validate_plugin(root: str) -> dict[str, Any]:
    """Import the plugin at ``root`` with FiftyOne's ``PluginContext`` and describe its operators;
    ``{"ok": False, "error": ...}`` when it cannot be imported or misses a declared operator."""
    from fiftyone.plugins.context import PluginContext
    from fiftyone.plugins.definitions import PluginDefinition

    metadata = next(path for name in METADATA_FILENAMES if os.path.isfile(path := os.path.join(root, name)))
    definition = PluginDefinition.from_disk(metadata)
    context = PluginContext(definition)
    context.register_all()  # FiftyOne logs import errors and keeps them here instead of raising
    if context.errors:
        return {
            "ok": False,
            "error": f"{definition.name}: importing {definition.py_entry} in the FiftyOne interpreter failed; "
            "fix the plugin and upload it again.\n" + context.errors[-1],
        }
    operators = {operator.name: operator for operator in context.instances}
    unregistered = [name for name in definition.operators if name not in operators]
    if unregistered:
        return {
            "ok": False,
            "error": f"{definition.name}: fiftyone.yml declares {unregistered} but register(p) never registers "
            "them; register each declared operator or remove it from `operators`.",
        }
    try:
        described = {name: _describe(operator) for name, operator in operators.items()}
        json.dumps(described)
    except (TypeError, ValueError) as exc:
        return {"ok": False, "error": f"{definition.name}: an operator's config or inputs cannot be stored: {exc}"}
    return {"ok": True, "operators": described}


def _validate_main() -> None:
    request = json.loads(sys.stdin.read())
    result = validate_plugin(request["root"])
    with open(request["result"], "w") as out:
        json.dump(result, out)
    os._exit(0)  # no interpreter shutdown: plugin threads or atexit handlers must not hold the install


async def _execute(spec: dict[str, Any], messages: IO[bytes], lock: threading.Lock, lifeline: Any) -> dict[str, Any]:
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

    def check_for_termination() -> None:
        if lifeline.reason is not None:
            raise OperationTerminated(f"The operation was terminated: {lifeline.reason}")

    ctx.check_for_termination = check_for_termination
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
    if sys.argv[1:] == ["--validate"]:
        _validate_main()
    if sys.argv[1:2] == ["--plugin"]:
        os.environ["FIFTYONE_PLUGINS_DIR"] = sys.argv[2]  # before fiftyone is imported: it reads it then
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
        outcome = asyncio.run(_execute(dict(spec), messages, lock, lifeline))
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
