"""How an operation's state and progress are shown in text (CLI tables, the demo's live view)."""

from __future__ import annotations

from datetime import datetime

from fiftyops_provider.store import DelegatedOperationDocument
from fiftyops_provider.store import ExecutionRunState as S


def state_cell(doc: DelegatedOperationDocument) -> str:
    """``running (42%)`` / ``running (stage 2/3)`` as ``fiftyone delegated list`` shows it."""
    state = doc.run_state.value
    if doc.run_state is S.RUNNING and doc.status is not None:
        if doc.status.progress is not None:
            return f"{state} ({doc.status.progress:.0%})"
        if doc.status.label:
            return f"{state} ({doc.status.label})"
    return state


def progress_bar(fraction: float | None, width: int = 20) -> str:
    if fraction is None:
        return "[" + "?" * width + "]"
    filled = round(fraction * width)
    return "[" + "#" * filled + "-" * (width - filled) + f"] {fraction:4.0%}"


def fmt_time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""
