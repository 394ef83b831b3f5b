"""Printing for the CLI: human tables by default, JSON with ``--json`` (stable for scripts)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from fiftyops_provider.jsonable import json_default
from fiftyops_provider.store import DelegatedOperationDocument


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, default=json_default, indent=2, sort_keys=True)
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
