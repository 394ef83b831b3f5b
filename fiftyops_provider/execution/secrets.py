"""Plugin secrets: resolving the declared keys and keeping their values out of logs.

A ``SecretsSource`` is anything with ``get(key) -> str | None``: ``os.environ`` (the default, as in
FiftyOne OSS), a plain dict, or an adapter over Airflow Variables/Connections. Only the keys the
plugin declares are looked up, so an operator never sees another plugin's secrets through
``ctx.secrets`` or its process environment.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Protocol

MASK = "***"


class SecretsSource(Protocol):
    def get(self, key: str) -> str | None: ...


def resolve_secrets(keys: Iterable[str], source: SecretsSource | None = None) -> dict[str, str]:
    """``{key: value}`` for each declared key the source has; missing keys are left out (the
    operator sees ``ctx.secret(key) is None``, as in FiftyOne)."""
    source = os.environ if source is None else source
    resolved: dict[str, str] = {}
    for key in keys:
        value = source.get(key)
        if value is not None:
            resolved[key] = str(value)
    return resolved


class Masker:
    """Replaces secret values with ``***`` in text bound for logs and stored errors."""

    def __init__(self, secrets: Mapping[str, str] | None = None) -> None:
        # Longest first, so a secret containing another is masked whole.
        self._values = sorted({v for v in (secrets or {}).values() if v}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, MASK)
        return text
