"""Declaring an operator's inputs: enough to validate params, store the schema in the operation's
``metadata.inputs_schema``, and render a form (the Airflow "Trigger" form uses it as DAG params).

    def resolve_input(self, ctx):
        inputs = Inputs()
        inputs.str("field", required=True, label="Field name")
        inputs.int("limit", default=100, minimum=1)
        return inputs
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fiftyops_provider.plugins.errors import InvalidParams

JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": builtins.str,
    "integer": builtins.int,
    "number": (builtins.int, builtins.float),
    "boolean": builtins.bool,
    "array": builtins.list,
    "object": builtins.dict,
}
MAX_STRING_LENGTH = 65536


@dataclass
class InputField:
    """One declared input, described with JSON-schema vocabulary."""

    name: str
    type: str
    required: bool = False
    default: Any = None
    label: str | None = None
    description: str | None = None
    choices: list[Any] | None = None
    minimum: float | None = None
    maximum: float | None = None

    def to_json(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": self.type, "title": self.label or self.name}
        for key in ("description", "default", "minimum", "maximum"):
            value = getattr(self, key)
            if value is not None:
                schema[key] = value
        if self.choices is not None:
            schema["enum"] = self.choices
        return schema

    def check(self, value: Any) -> str | None:
        """The reason ``value`` is not acceptable, or None."""
        expected = JSON_TYPES[self.type]
        if isinstance(value, bool) and self.type in ("integer", "number"):
            return f"expected {self.type}, got boolean"
        if not isinstance(value, expected):
            return f"expected {self.type}, got {type(value).__name__}"
        if isinstance(value, builtins.float) and not math.isfinite(value):
            return f"must be a finite number, got {value}"
        if isinstance(value, builtins.str) and len(value) > MAX_STRING_LENGTH:
            return f"longer than {MAX_STRING_LENGTH} characters"
        if self.choices is not None and value not in self.choices:
            return f"must be one of {self.choices}"
        if not isinstance(value, (builtins.int, builtins.float)):  # bounds are for numbers (JSON schema)
            return None
        if self.minimum is not None and value < self.minimum:
            return f"must be >= {self.minimum}"
        if self.maximum is not None and value > self.maximum:
            return f"must be <= {self.maximum}"
        return None


@dataclass
class Inputs:
    """An ordered set of declared inputs (FiftyOne's ``types.Object`` in spirit)."""

    fields: dict[str, InputField] = field(default_factory=dict)

    def add(self, name: str, type: str, **options: Any) -> Inputs:
        if type not in JSON_TYPES:
            raise ValueError(f"Unknown input type {type!r}; use one of {sorted(JSON_TYPES)}.")
        self.fields[name] = InputField(name=name, type=type, **options)
        return self

    def str(self, name: str, **options: Any) -> Inputs:
        return self.add(name, "string", **options)

    def int(self, name: builtins.str, **options: Any) -> Inputs:
        return self.add(name, "integer", **options)

    def float(self, name: builtins.str, **options: Any) -> Inputs:
        return self.add(name, "number", **options)

    def bool(self, name: builtins.str, **options: Any) -> Inputs:
        return self.add(name, "boolean", **options)

    def list(self, name: builtins.str, **options: Any) -> Inputs:
        return self.add(name, "array", **options)

    def obj(self, name: builtins.str, **options: Any) -> Inputs:
        return self.add(name, "object", **options)

    def enum(self, name: builtins.str, choices: builtins.list[Any], **options: Any) -> Inputs:
        kind = (
            "integer"
            if all(isinstance(c, builtins.int) and not isinstance(c, builtins.bool) for c in choices)
            else "string"
        )
        return self.add(name, kind, choices=builtins.list(choices), **options)

    def validate(self, params: Mapping[builtins.str, Any] | None) -> dict[builtins.str, Any]:
        """Params with defaults filled in; raises ``InvalidParams`` listing every problem."""
        if params is None:
            params = {}
        if not isinstance(params, Mapping):
            raise InvalidParams([("params", "must be a dict of input values")])
        problems: builtins.list[tuple[builtins.str, builtins.str]] = []
        for name in params:
            if name not in self.fields:
                problems.append((builtins.str(name), f"unknown input; declared inputs are {sorted(self.fields)}"))
        resolved: dict[builtins.str, Any] = {}
        for name, spec in self.fields.items():
            if params.get(name) is None:
                if spec.required and spec.default is None:
                    problems.append((name, "required"))
                elif spec.default is not None:
                    resolved[name] = spec.default
                continue
            reason = spec.check(params[name])
            if reason:
                problems.append((name, reason))
            resolved[name] = params[name]
        if problems:
            raise InvalidParams(problems)
        return resolved

    @classmethod
    def from_json(cls, schema: Mapping[builtins.str, Any]) -> Inputs:
        """The inputs ``to_json`` described (a FiftyOne operator's are stored that way)."""
        required = set(schema.get("required") or [])
        inputs = cls()
        for name, spec in (schema.get("properties") or {}).items():
            inputs.add(
                name,
                spec["type"],
                required=name in required,
                default=spec.get("default"),
                label=spec.get("title"),
                description=spec.get("description"),
                choices=spec.get("enum"),
                minimum=spec.get("minimum"),
                maximum=spec.get("maximum"),
            )
        return inputs

    def to_json(self) -> dict[builtins.str, Any]:
        """A JSON schema of the inputs (stored as ``metadata.inputs_schema``)."""
        return {
            "type": "object",
            "properties": {name: spec.to_json() for name, spec in self.fields.items()},
            "required": [name for name, spec in self.fields.items() if spec.required],
        }
