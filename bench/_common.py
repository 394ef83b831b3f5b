"""Helpers shared by the benchmarks: a throwaway mongod and percentile tables."""

from __future__ import annotations

import contextlib
import statistics
import tempfile
from collections.abc import Iterator
from pathlib import Path

from fiftyops_provider.stacks.embedded_mongo import EmbeddedMongo, free_port


@contextlib.contextmanager
def scratch_mongod(cache_gb: float = 1.0) -> Iterator[EmbeddedMongo]:
    """A mongod of the benchmark's own, stopped by PID afterwards."""
    with tempfile.TemporaryDirectory(prefix="fiftyops-bench-") as tmp:
        server = EmbeddedMongo(dbpath=Path(tmp) / "db", port=free_port(), cache_size_gb=cache_gb)
        server.start()
        try:
            yield server
        finally:
            server.stop()


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def summarize_ms(samples: list[float]) -> tuple[float, float, float]:
    """p50, p95, mean in milliseconds from samples in seconds."""
    return percentile(samples, 50) * 1000, percentile(samples, 95) * 1000, statistics.mean(samples) * 1000


def print_table(headers: list[str], rows: list[list[object]]) -> None:
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    print(" | ".join(h.ljust(w) for h, w in zip(headers, widths)))
    print("-|-".join("-" * w for w in widths))
    for row in cells:
        print(" | ".join(c.ljust(w) for c, w in zip(row, widths)))
