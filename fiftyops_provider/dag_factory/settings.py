"""The dispatcher's ``[fiftyops]`` settings, read in one place (DAG factory, sensor, operator).

``execution_quota`` is the ``fiftyops`` pool's size: how many operations run at once. The
dispatcher hands Airflow ``dispatch_ahead`` more than that (admits scheduled operations while
queued + running stays under ``quota + dispatch_ahead``), so a freed pool slot is taken by a run
Airflow already has instead of waiting for the next dispatch: the pool, not the dispatcher,
bounds concurrency, as it does for any Airflow task.
"""

from __future__ import annotations

from airflow.sdk import conf

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
