"""``fiftyops up`` (the stack), ``fiftyops demo`` (the stack plus example operations) and
``fiftyops launch`` (run queued operations locally, without Airflow)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from fiftyops_provider.cli.output import print_table
from fiftyops_provider.execution.launcher import add_arguments as add_launcher_arguments
from fiftyops_provider.execution.launcher import run_from_args as run_launcher_from_args
from fiftyops_provider.stacks.local import DEFAULT_QUOTA, Stack


class StackFailed(RuntimeError):
    pass


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    for name, func, help_ in (
        ("up", cmd_up, "start MongoDB (embedded by default) + Airflow with the FiftyOps DAGs"),
        ("demo", cmd_demo, "`up`, then run example operations and show them live"),
    ):
        parser = subparsers.add_parser(name, help=help_)
        parser.add_argument("--port", type=int, default=8080, help="Airflow UI/API port (127.0.0.1)")
        parser.add_argument("--quota", type=int, default=DEFAULT_QUOTA, help="execution quota (pool slots)")
        parser.set_defaults(func=func)
        if name == "demo":
            parser.add_argument(
                "--exit",
                action="store_true",
                help="stop everything when the operations finish (default when not on a terminal)",
            )
    launch = subparsers.add_parser("launch", help="run queued operations on this machine, without Airflow")
    add_launcher_arguments(launch)
    launch.set_defaults(func=run_launcher_from_args)


STACK_CHECK_SECONDS = 1.0


def wait_for_interrupt(stack: Stack | None = None) -> None:
    """Until Ctrl-C (or SIGTERM). Given a ``stack``, raises StackFailed if its Airflow exits
    meanwhile, so the caller stops what is left of it and the next ``up`` starts clean."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(STACK_CHECK_SECONDS):
        exited = stack.airflow.exited() if stack and stack.airflow else None
        if exited:
            raise StackFailed(f"{exited}; stopped the rest. Run the command again to restart.")


def _start(args: argparse.Namespace) -> Stack:
    stack = Stack(quota=args.quota, admin=os.environ.get("FIFTYOPS_USER") or "admin")
    print("Starting MongoDB and Airflow (about 30 s)...", flush=True)
    try:
        stack.start(port=args.port)
    except BaseException:
        stack.stop()
        raise
    print(f"Airflow UI:   {stack.base_url}  (user admin, password in {stack.password_file})")
    print(f"Runs page:    {stack.base_url}/plugin/fiftyops-runs  (FiftyOps Runs in the Airflow nav)")
    print(f"MongoDB:      {stack.uri}  database {stack.settings.database_name}")
    return stack


def cmd_up(args: argparse.Namespace) -> None:
    stack = _start(args)
    try:
        print("FiftyOps is up. Queue operations with `fiftyops queue`; Ctrl-C stops everything.", flush=True)
        wait_for_interrupt(stack)
    finally:
        print("Stopping...", flush=True)
        stack.stop()


def cmd_demo(args: argparse.Namespace) -> None:
    from fiftyops_provider.stacks.demo import seed_demo, watch
    from fiftyops_provider.store import DelegatedOperationService

    stack = _start(args)
    try:
        docs = seed_demo(stack.database, stack.admin, stack.settings.home / "exports")
        print(f"\nQueued {len(docs)} operations; Airflow runs them:\n", flush=True)
        service = DelegatedOperationService(stack.database)
        final = watch(service, [d.id for d in docs], timeout=600)
        print()
        print_table(["operation", "state", "run_link"], [[d.label, d.run_state.value, d.run_link] for d in final])
        if not all(d.is_terminal for d in final):
            raise StackFailed("Some demo operations did not finish within 10 minutes; see the Airflow UI.")
        if not args.exit and sys.stdin.isatty():
            print("\nOpen the run links above in the Airflow UI. Ctrl-C stops everything.", flush=True)
            wait_for_interrupt(stack)
    finally:
        print("Stopping...", flush=True)
        stack.stop()
