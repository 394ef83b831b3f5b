"""The ``fiftyops`` command.

Exit codes: 0 success; 1 the command could not do what was asked (the message says why and what to
do); 2 bad usage. Errors print as one line; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import sys
import traceback

from fiftyops_provider.cli import cluster, datasets, db, delegated, login, plugins, queue, stack
from fiftyops_provider.cli.delegated import CommandFailed
from fiftyops_provider.cli.queue import BadParam
from fiftyops_provider.cli.stack import StackFailed
from fiftyops_provider.hooks.airflow_rest_client import AirflowAPIError
from fiftyops_provider.plugins import PluginError
from fiftyops_provider.stacks.embedded_mongo import EmbeddedMongoUnavailable
from fiftyops_provider.stacks.standalone import StandaloneFailed
from fiftyops_provider.store import StoreError

COMMAND_GROUPS = (stack, cluster, queue, delegated, plugins, datasets, db, login)
EXPECTED_ERRORS = (
    StoreError,
    PluginError,
    CommandFailed,
    BadParam,
    EmbeddedMongoUnavailable,
    StackFailed,
    StandaloneFailed,
    AirflowAPIError,
    *cluster.EXPECTED_ERRORS,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fiftyops", description="FiftyOps: delegated operations on Apache Airflow.")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for group in COMMAND_GROUPS:
        group.add_parser(subparsers)
    return parser


GLOBAL_FLAGS = ("--json", "--debug")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # --json / --debug are accepted anywhere on the line, not only before the command.
    flags = [arg for arg in argv if arg in GLOBAL_FLAGS]
    args = build_parser().parse_args(flags + [arg for arg in argv if arg not in GLOBAL_FLAGS])
    try:
        args.func(args)
    except EXPECTED_ERRORS as exc:
        if args.debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
