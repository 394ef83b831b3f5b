"""Printing for the CLI: human tables by default, JSON with ``--json`` (stable for scripts)."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from enum import Enum
from typing import Any, Iterable, Sequence

from bson import ObjectId

from fiftyops_provider.store import DelegatedOperationDocument


def _json_default(value: Any) -> Any:
    if isinstance(value, ObjectId):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat() + ("Z" if value.tzinfo is None else "")
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, default=_json_default, indent=2, sort_keys=True)
    sys.stdout.write("\n")


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    rows = [["" if cell is None else str(cell) for cell in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    line = "  ".join(h.upper().ljust(w) for h, w in zip(headers, widths))
    print(line.rstrip())
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


def operation_json(doc: DelegatedOperationDocument) -> dict[str, Any]:
    raw = doc.to_pymongo()
    raw["id"] = str(doc.id)
    raw.pop("_id", None)
    return raw
