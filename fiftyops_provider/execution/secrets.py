"""Plugin secrets: resolving the declared keys and keeping their values out of logs.

A ``SecretsSource`` is anything with ``get(key) -> str | None``: ``os.environ`` (the default, as in
FiftyOne OSS), a plain dict, or an adapter over Airflow Variables/Connections. Only the keys the
plugin declares are looked up, so an operator never sees another plugin's secrets through
``ctx.secrets`` or its process environment. Names reserved for Airflow's and FiftyOps' own
credentials (``AIRFLOW*``, ``FIFTYOPS_DATABASE_*``) are never looked up, even when declared.

Masking covers every place an operator's text is stored: log lines, ``log_tail``, progress
labels, results, outputs and errors. A multi-line value (a PEM key) is masked whole and line by
line, because a log is read line by line; lines shorter than ``MIN_MASKED_LINE`` characters (a
lone ``}``) are masked only as part of the whole value.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from fiftyops_provider.execution.child_env import is_reserved

MASK = "***"
MIN_MASKED_LINE = 4


class SecretsSource(Protocol):
    def get(self, key: str) -> str | None: ...


def resolve_secrets(keys: Iterable[str], source: SecretsSource | None = None) -> dict[str, str]:
    """``{key: value}`` for each declared key the source has; missing keys are left out (the
    operator sees ``ctx.secret(key) is None``, as in FiftyOne)."""
    source = os.environ if source is None else source
    resolved: dict[str, str] = {}
    for key in keys:
        if is_reserved(key):
            continue
        value = source.get(key)
        if value is not None:
            resolved[key] = str(value)
    return resolved


class Masker:
    """Replaces secret values with ``***`` in text bound for logs and stored documents."""

    def __init__(self, secrets: Mapping[str, str] | None = None) -> None:
        values = {v for v in (secrets or {}).values() if v}
        for value in list(values):
            values.update(line.strip() for line in value.splitlines() if len(line.strip()) >= MIN_MASKED_LINE)
        # Longest first, so a secret containing another (a PEM containing its lines) is masked whole.
        self._values = sorted(values, key=len, reverse=True)

    @property
    def longest(self) -> int:
        """Length of the longest masked value: a stream cut anywhere keeps this minus one
        character back, so no value is ever split across two masked pieces."""
        return len(self._values[0]) if self._values else 0

    def __call__(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, MASK)
        return text

    def document(self, value: Any) -> Any:
        """``value`` (a result, outputs schema, error) with every string in it masked, keys included."""
        if not self._values:
            return value
        if isinstance(value, str):
            return self(value)
        if isinstance(value, Mapping):
            return {self.document(key): self.document(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.document(item) for item in value]
        return value
