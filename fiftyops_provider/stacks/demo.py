"""The demo's content: example plugins, a sample dataset, a handful of operations, a live view.

Used by ``fiftyops demo`` (on Airflow) and testable without Airflow: ``seed_demo`` installs the
example plugins and queues one operation of each kind (success, progress, failure, a pipeline);
``watch`` shows their states with progress bars until each has finished.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from pymongo.database import Database

from fiftyops_provider.cli.display import progress_bar, state_cell
from fiftyops_provider.datasets.catalog import create_dataset, load_dataset
from fiftyops_provider.plugins.delegate import delegate
from fiftyops_provider.plugins.errors import PluginError
from fiftyops_provider.plugins.registry import PluginRegistry
from fiftyops_provider.store import DelegatedOperationDocument, DelegatedOperationService
from fiftyops_provider.store import ExecutionRunState as S

DEMO_DATASET = "fiftyops-demo"
DEMO_SAMPLES = 500
EXAMPLE_PLUGINS = ("utils", "io", "pipelines", "webhook")
REPO_ROOT = Path(__file__).resolve().parents[2]


def install_example_plugins(
    db: Database, plugins_dir: Path = REPO_ROOT / "plugins_repo", acting_user: str | None = None
) -> list[str]:
    """Install (or upgrade to) the example plugins; returns their names."""
    registry = PluginRegistry(db)
    return [
        registry.install(plugins_dir / name, overwrite=True, acting_user=acting_user)["name"]
        for name in EXAMPLE_PLUGINS
    ]


def ensure_demo_dataset(db: Database) -> None:
    try:
        load_dataset(db, None, DEMO_DATASET)
    except PluginError:
        rng = random.Random(0)
        kinds = ["cat", "dog", "bird", "fish"]
        create_dataset(db, DEMO_DATASET).add_samples(
            [
                {"filepath": f"/data/demo/{rng.choice(kinds)}_{i:04d}.jpg", "kind": rng.choice(kinds)}
                for i in range(DEMO_SAMPLES)
            ]
        )


def seed_demo(db: Database, user: str, export_dir: Path) -> list[DelegatedOperationDocument]:
    """Queue the demo operations as ``user`` (an admin) on the demo dataset."""
    ensure_demo_dataset(db)
    export_dir.mkdir(parents=True, exist_ok=True)
    runs: list[tuple[str, dict[str, Any]]] = [
        ("@fiftyops/utils/count_samples", {}),
        ("@fiftyops/utils/sleep", {"seconds": 8}),
        ("@fiftyops/utils/compute_field", {"field": "name_length"}),
        ("@fiftyops/utils/fail", {"message": "this operation fails on purpose"}),
        ("@fiftyops/pipelines/measure_and_export", {"path": str(export_dir / "demo_export.json")}),
    ]
    return [delegate(uri, dataset=DEMO_DATASET, params=params, user=user, db=db) for uri, params in runs]


def render(docs: list[DelegatedOperationDocument]) -> list[str]:
    width = max(len(d.label) for d in docs)
    lines = []
    for doc in docs:
        if doc.run_state is S.RUNNING:
            detail = progress_bar(doc.status.progress if doc.status else None)
            if doc.status and doc.status.label:
                detail += f"  {doc.status.label}"
        else:
            detail = state_cell(doc)
        lines.append(f"{doc.label.ljust(width)}  {doc.run_state.value:<9}  {detail}")
    return lines


def watch(
    service: DelegatedOperationService,
    ids: list,
    timeout: float = 600.0,
    interval: float = 0.5,
    out: TextIO = sys.stdout,
    clock: Callable[[], float] = time.monotonic,
) -> list[DelegatedOperationDocument]:
    """Show the operations until each has finished (or ``timeout``); returns the final documents.

    On a terminal the table is redrawn in place. Elsewhere (CI, a log file) redrawing would repeat
    the whole table at every change, so each operation's line is printed once each time it changes.

    :param service: where the operations are read.
    :param ids: the operations to show, in this order.
    :param timeout: seconds after which it returns even if some have not finished.
    :param interval: seconds between reads.
    :param out: where to write.
    :param clock: the time source (monotonic seconds).
    """
    deadline = clock() + timeout
    drawn = 0
    interactive = out.isatty()
    shown: dict[int, str] = {}
    while True:
        docs = [service.get(i) for i in ids]
        lines = render(docs)
        if interactive:
            if drawn:
                out.write(f"\x1b[{drawn}F\x1b[J")
            out.write("\n".join(lines) + "\n")
            drawn = len(lines)
        else:
            for position, line in enumerate(lines):
                if shown.get(position) != line:
                    out.write(line + "\n")
                    shown[position] = line
        out.flush()
        if all(d.is_terminal for d in docs) or clock() > deadline:
            return docs
        time.sleep(interval)
