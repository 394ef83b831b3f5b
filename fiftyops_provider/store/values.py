"""What an operation's inputs may hold to be stored, shown and rerun: JSON-like values MongoDB
accepts and the Run page can render.

MongoDB refuses documents nested more than 100 levels (after Python has already recursed through
them), a NaN or an infinity is not JSON (the Run page's JSON would fail), and keys with ``$`` or
``.`` are operators and paths to MongoDB, not names. Checked without recursion, so a value nested
deeper than Python's stack is refused too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from fiftyops_provider.store.errors import InvalidOperation

MAX_NESTING = 32
"""Levels of dicts and lists inside one input: far below MongoDB's 100, which also counts the
operation document's own levels (``context.request_params.params``)."""


def check_storable(params: Any, what: str = "params") -> None:
    """Raise ``InvalidOperation`` naming the first value in ``params`` that cannot be stored.

    :param params: the operator inputs (any JSON-like value).
    :param what: how the message names the top level (``params``).
    """
    pending: list[tuple[str, Any, int]] = [(what, params, 0)]
    while pending:
        path, value, depth = pending.pop()
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidOperation(f"{path} is {value}; inputs must be finite numbers (JSON has no NaN or Infinity).")
        if isinstance(value, (Mapping, list, tuple)):
            if depth >= MAX_NESTING:
                raise InvalidOperation(
                    f"{path} nests more than {MAX_NESTING} levels of objects and lists; flatten the input."
                )
            if isinstance(value, Mapping):
                for key, item in value.items():
                    if isinstance(key, str) and (key.startswith("$") or "." in key):
                        raise InvalidOperation(
                            f"{path} has the key {key!r}; keys inside inputs cannot start with '$' or contain '.'."
                        )
                    pending.append((f"{path}.{key}", item, depth + 1))
            else:
                pending.extend((f"{path}[{index}]", item, depth + 1) for index, item in enumerate(value))
