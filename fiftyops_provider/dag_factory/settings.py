"""The dispatcher's ``[fiftyops]`` settings, read in one place (DAG factory, sensor, operator).

``execution_quota`` is the ``fiftyops`` pool's size: how many operations run at once. The
dispatcher hands Airflow ``dispatch_ahead`` more than that (admits scheduled operations while
queued + running stays under ``quota + dispatch_ahead``), so a freed pool slot is taken by a run
Airflow already has instead of waiting for the next dispatch: the pool, not the dispatcher,
bounds concurrency, as it does for any Airflow task.
"""

from __future__ import annotations

import os

from fiftyops_provider.airflow_compat import conf
from fiftyops_provider.config import load_settings
from fiftyops_provider.execution.reaper import STALE_FACTOR
from fiftyops_provider.store.routing import parse_delegation_targets

DISPATCH_MODES = ("direct", "sensor", "asset")
DEFAULT_QUOTA = 4


def execution_quota() -> int:
    return conf.getint("fiftyops", "execution_quota", fallback=DEFAULT_QUOTA)


def dispatch_ahead() -> int:
    """Runs handed to Airflow beyond the pool's slots (default: as many as the quota)."""
    value = conf.get("fiftyops", "dispatch_ahead", fallback="")
    ahead = int(value) if str(value).strip() else execution_quota()
    if ahead < 0:
        raise ValueError(f"[fiftyops] dispatch_ahead must be 0 or more, not {ahead}.")
    return ahead


def admission_limit() -> int:
    """Most operations queued + running at once under Airflow: the pool's slots plus the runs
    waiting for one."""
    return execution_quota() + dispatch_ahead()


def dispatch_mode() -> str:
    mode = conf.get("fiftyops", "dispatch_mode", fallback="direct")
    if mode not in DISPATCH_MODES:
        raise ValueError(f"[fiftyops] dispatch_mode must be one of {', '.join(DISPATCH_MODES)}, not {mode!r}.")
    return mode


def reaper_timing() -> tuple[float, float]:
    """(stale_after, reap_interval): a running operation whose heartbeat is older than 3x
    ``[fiftyops] heartbeat_interval`` is reaped by its on_reset policy; the dispatcher checks for
    such runs at least every ``[fiftyops] reap_interval`` seconds (default 60) while any runs.
    A dead worker's operation therefore leaves ``running`` within the sum of the two."""
    heartbeat = conf.getfloat("fiftyops", "heartbeat_interval", fallback=5.0)
    return STALE_FACTOR * heartbeat, conf.getfloat("fiftyops", "reap_interval", fallback=60.0)


def delegation_targets() -> list[str]:
    """The delegation targets this deployment serves (``store.routing``): ``[fiftyops]
    delegation_targets``, else ``FIFTYOPS_DELEGATION_TARGETS``, else ``fiftyops``, in order: the
    first is the one operations queued from the Trigger form are sent to."""
    value = conf.get("fiftyops", "delegation_targets", fallback="")
    return list(parse_delegation_targets(value) if value.strip() else load_settings().delegation_targets)


def apply_fiftyone_python() -> None:
    """Hand ``[fiftyops] fiftyone_python`` (env ``AIRFLOW__FIFTYOPS__FIFTYONE_PYTHON``), the
    FiftyOne interpreter, to the domain, which reads ``FIFTYOPS_FIFTYONE_PYTHON`` (and must not
    import Airflow). Called by every Airflow-layer entry point before it builds an operator
    source; unset leaves ``FIFTYOPS_FIFTYONE_PYTHON`` as the environment has it."""
    value = conf.get("fiftyops", "fiftyone_python", fallback="").strip()
    if value:
        os.environ["FIFTYOPS_FIFTYONE_PYTHON"] = value
