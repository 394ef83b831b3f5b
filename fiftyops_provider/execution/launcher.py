"""The local launcher: run delegated operations without Airflow (like ``fiftyone delegated launch``).

    python -m fiftyops_provider.execution [--delegation-target T] [--max-operations N] ...

Each round it reaps stale runs (every ``reap_interval``), admits scheduled operations within the
quota, then picks up the oldest queued operation (FIFO) of this deployment and runs it: one sent
to one of its delegation targets (``--delegation-targets``, else ``FIFTYOPS_DELEGATION_TARGETS``,
else ``fiftyops``), or sent nowhere in particular with an operator it can run. Anyone else's
operation stays queued, untouched (``store.routing``). Several launchers may share
a database: pick-up and claim are atomic, so each operation runs once. SIGTERM/SIGINT shut the
executor down: the current operation is terminated (checkpoint, then kill after the grace
period) and recorded, nothing new is claimed, and the launcher exits.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

from pymongo.errors import PyMongoError

from fiftyops_provider.config import load_settings
from fiftyops_provider.execution.dispatch_round import deployment_routing, dispatch_round
from fiftyops_provider.execution.executor import (
    DEFAULT_HEARTBEAT_INTERVAL,
    DEFAULT_TERMINATION_GRACE,
    Executor,
    OutcomeState,
)
from fiftyops_provider.execution.reaper import STALE_FACTOR
from fiftyops_provider.execution.sources import DEFAULT_OPERATOR_SOURCE
from fiftyops_provider.store import DelegatedOperationService, StoreError

logger = logging.getLogger(__name__)


def served_targets(
    delegation_target: str | None = None, delegation_targets: str | Iterable[str] | None = None
) -> str | Iterable[str]:
    """The delegation targets a local run serves: those given, else the one it is narrowed to
    (``--delegation-target X`` serves X), else ``FIFTYOPS_DELEGATION_TARGETS`` (``store.routing``)."""
    if delegation_targets:
        return delegation_targets
    if delegation_target:
        return [delegation_target]
    return load_settings().delegation_targets


def run_launcher(
    service: DelegatedOperationService | None = None,
    *,
    executor: Executor | None = None,
    operator: str | None = None,
    delegation_target: str | None = None,
    dataset_name: str | None = None,
    delegation_targets: str | Iterable[str] | None = None,
    admission_quota: int | None = None,
    poll_interval: float = 0.5,
    reap_interval: float = 30.0,
    max_operations: int | None = None,
    stop_event: threading.Event | None = None,
    **executor_options: Any,
) -> int:
    """Loop until ``stop_event`` is set or ``max_operations`` runs are done; returns the number
    of runs. ``executor_options`` build the ``Executor`` when none is given. ``delegation_targets``:
    the targets this launcher serves (default: ``FIFTYOPS_DELEGATION_TARGETS``)."""
    service = service or DelegatedOperationService()
    executor = executor or Executor(service, **executor_options)
    targets = served_targets(delegation_target, delegation_targets)
    stop = stop_event or threading.Event()
    stale_after = STALE_FACTOR * executor.heartbeat_interval
    runs = 0
    next_reap = time.monotonic()
    while not stop.is_set() and (max_operations is None or runs < max_operations):
        try:
            reap = time.monotonic() >= next_reap
            picked = dispatch_round(
                service,
                executor.executor_id,
                limit=1,
                quota=admission_quota,
                routing=deployment_routing(executor.source, targets),
                source=executor.source,
                stale_after=stale_after,
                reap=reap,
                operator=operator,
                delegation_target=delegation_target,
                dataset_name=dataset_name,
            )
            if reap:
                next_reap = time.monotonic() + reap_interval
            if not picked:
                stop.wait(poll_interval)
                continue
            outcome = executor.run(picked[0])
        except (PyMongoError, StoreError) as exc:  # a database blip, an operation deleted under us
            logger.warning("Launcher %s: %s (will retry)", executor.executor_id, exc)
            stop.wait(poll_interval)
            continue
        if outcome.state is not OutcomeState.NOT_CLAIMED:
            runs += 1
            logger.info(
                "Operation %s: %s%s",
                outcome.operation_id,
                outcome.state.value,
                f" ({outcome.error_message})" if outcome.error_message else "",
            )
    return runs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The launcher's options (``fiftyops launch`` and ``python -m fiftyops_provider.execution``)."""
    parser.add_argument("--operator", help="only operations of this operator URI")
    parser.add_argument("--delegation-target", help="only operations targeted at this orchestrator name")
    parser.add_argument(
        "--delegation-targets",
        help="the targets this launcher serves, comma-separated (default: --delegation-target if given, "
        "else FIFTYOPS_DELEGATION_TARGETS, else fiftyops)",
    )
    parser.add_argument("--dataset", dest="dataset_name", help="only operations on this dataset")
    parser.add_argument("--quota", type=int, dest="admission_quota", help="max queued + running operations")
    parser.add_argument("--max-operations", type=int, help="stop after this many runs")
    parser.add_argument("--poll-interval", type=float, default=0.5)
    parser.add_argument("--reap-interval", type=float, default=30.0)
    parser.add_argument("--heartbeat-interval", type=float, default=DEFAULT_HEARTBEAT_INTERVAL)
    parser.add_argument("--termination-grace", type=float, default=DEFAULT_TERMINATION_GRACE)
    parser.add_argument("--source", default=DEFAULT_OPERATOR_SOURCE, help="operator source 'module:factory'")
    parser.add_argument("--log", action="store_true", help="echo operator output to stdout")


def run_from_args(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    service = DelegatedOperationService()
    executor = Executor(
        service,
        source=args.source,
        heartbeat_interval=args.heartbeat_interval,
        termination_grace=args.termination_grace,
        echo=print if args.log else None,
    )
    stop = threading.Event()

    def shutdown(signum: int, _frame: object) -> None:
        stop.set()
        executor.shutdown(
            f"the launcher received {signal.Signals(signum).name}", requested_by=f"launcher {executor.executor_id}"
        )

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    run_launcher(
        service,
        executor=executor,
        operator=args.operator,
        delegation_target=args.delegation_target,
        dataset_name=args.dataset_name,
        delegation_targets=args.delegation_targets,
        admission_quota=args.admission_quota,
        poll_interval=args.poll_interval,
        reap_interval=args.reap_interval,
        max_operations=args.max_operations,
        stop_event=stop,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fiftyops launch", description="Run queued delegated operations locally.")
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))
