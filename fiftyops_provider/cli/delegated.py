"""``fiftyops delegated ...``: the operation store from the command line (``fiftyone delegated``
parity: list, info, output, logs, fail, terminate, delete, archive, cleanup, rerun, pin, label).

Every command acts as a user under ``access.run_rules``: ``FIFTYOPS_USER`` in direct mode (none:
refused), the Airflow token's user in remote mode (the server checks)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

from fiftyops_provider.cli.display import fmt_time, state_cell
from fiftyops_provider.cli.output import operation_json, print_json, print_table
from fiftyops_provider.plugins.errors import PluginError
from fiftyops_provider.remote import RemoteRuns
from fiftyops_provider.run_actions import RunActions, RunQuery
from fiftyops_provider.store import SORT_PRESETS, StoreError
from fiftyops_provider.store import ExecutionRunState as S

# Every state an operation can be deleted in: all but running (and FiftyOne's unused "processing").
CLEANABLE_STATES = tuple(s.value for s in S if s not in (S.RUNNING, S.PROCESSING))


class CommandFailed(Exception):
    """Some of the ids given could not be acted on; the message lists them (exit code 1)."""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("delegated", help="list and manage delegated operations")
    sub = group.add_subparsers(dest="action", required=True)

    ls = sub.add_parser("list", help="list operations")
    ls.add_argument("-o", "--operator")
    ls.add_argument("-d", "--dataset")
    ls.add_argument("-s", "--state", action="append", choices=[s.value for s in S if s is not S.PROCESSING])
    ls.add_argument("-u", "--user")
    ls.add_argument("--pinned", action="store_true")
    ls.add_argument("-m", "--match", help="case-sensitive text in the operator URI")
    ls.add_argument("--match-labels", action="store_true", help="also search labels")
    ls.add_argument("--sort", choices=sorted(SORT_PRESETS), default="recent")
    ls.add_argument("--skip", type=int, default=0)
    ls.add_argument("-l", "--limit", type=int, default=20)
    ls.add_argument("--include-archived", action="store_true")
    ls.set_defaults(func=cmd_list)

    for name, func, help_ in (
        ("info", cmd_info, "show an operation: inputs, outputs, errors, run_link, log_path"),
        ("output", cmd_output, "show the result of a completed operation"),
    ):
        p = sub.add_parser(name, help=help_)
        p.add_argument("id")
        p.set_defaults(func=func)

    logs = sub.add_parser("logs", help="print an operation's log (follow a running one with --follow)")
    logs.add_argument("id")
    logs.add_argument("-f", "--follow", action="store_true")
    logs.set_defaults(func=cmd_logs)

    fail = sub.add_parser("fail", help="mark scheduled/queued/running operations failed")
    fail.add_argument("ids", nargs="+")
    fail.set_defaults(func=cmd_fail)
    for name, (help_, _, _) in BULK_ACTIONS.items():
        p = sub.add_parser(name, help=help_)
        p.add_argument("ids", nargs="+")
        p.set_defaults(func=cmd_bulk)

    term = sub.add_parser("terminate", help="stop operations (running ones are stopped by their executor)")
    term.add_argument("ids", nargs="+")
    term.add_argument("--reason", default="terminated from the CLI")
    term.set_defaults(func=cmd_terminate)

    rerun = sub.add_parser("rerun", help="queue a new run of an operation")
    rerun.add_argument("id")
    rerun.set_defaults(func=cmd_rerun)

    label = sub.add_parser("label", help="rename an operation")
    label.add_argument("id")
    label.add_argument("label")
    label.set_defaults(func=cmd_label)

    cleanup = sub.add_parser("cleanup", help="delete operations in bulk (never running ones)")
    cleanup.add_argument("-o", "--operator")
    cleanup.add_argument("-d", "--dataset")
    cleanup.add_argument("-s", "--state", choices=CLEANABLE_STATES)
    cleanup.add_argument("--orphan", action="store_true", help="operations whose dataset no longer exists")
    cleanup.add_argument("--dry-run", action="store_true")
    cleanup.set_defaults(func=cmd_cleanup)


def _runs() -> RunActions | RemoteRuns:
    """The acting user's runs: ``FIFTYOPS_USER`` in direct mode, the token's user in remote mode."""
    from fiftyops_provider.management import runs

    return runs()


def cmd_list(args: argparse.Namespace) -> None:
    query = RunQuery(
        args.operator,
        args.dataset,
        args.state,
        args.user,
        True if args.pinned else None,
        args.match,
        args.match_labels,
        args.include_archived,
        args.sort,
        args.skip,
        args.limit,
    )
    page = _runs().page(query)
    if args.json:
        print_json(
            {
                "total": page.total,
                "total_is_exact": page.total_is_exact,
                "skip": page.skip,
                "limit": page.limit,
                "operations": [operation_json(d) for d in page.items],
            }
        )
        return
    print_table(
        ["id", "label", "operator", "dataset", "user", "created", "state", "pinned"],
        [
            [
                d.id,
                d.label,
                d.operator,
                d.dataset_name,
                d.queued_by,
                fmt_time(d.created_at),
                state_cell(d),
                "*" if d.pinned else "",
            ]
            for d in page.items
        ],
    )
    shown = f"{page.skip + 1}-{page.skip + len(page.items)}" if page.items else "0"
    print(f"\n{shown} of {page.total}{'' if page.total_is_exact else '+'}")


def cmd_info(args: argparse.Namespace) -> None:
    runs = _runs()
    doc = runs.get(args.id)
    if args.json:
        print_json(operation_json(doc))
        return
    position = runs.queue_position(doc.id)
    rows = [
        ("id", doc.id),
        ("label", doc.label),
        ("operator", doc.operator),
        ("dataset", doc.dataset_name),
        ("queued by", doc.queued_by),
        ("state", state_cell(doc) + (f" (#{position} in queue)" if position else "")),
        ("attempt", doc.attempt),
        ("created", fmt_time(doc.created_at)),
        ("started", fmt_time(doc.started_at)),
        ("completed", fmt_time(doc.completed_at)),
        ("failed", fmt_time(doc.failed_at)),
        ("run_link", doc.run_link),
        ("log_path", doc.log_path),
        ("log_size", doc.log_size),
        ("inputs", doc.params),
        ("outputs", doc.result.result if doc.result else None),
        ("error", doc.result.error_message if doc.result else None),
    ]
    for key, value in rows:
        print(f"{key + ':':<11} {'' if value is None else value}")
    if doc.result and doc.result.error:
        print("\n" + doc.result.error.rstrip())


def cmd_output(args: argparse.Namespace) -> None:
    doc = _runs().get(args.id)
    if doc.run_state != S.COMPLETED:
        raise CommandFailed(f"Operation {doc.id} is {doc.run_state.value}; output exists once it has completed.")
    value = doc.result.result if doc.result else None
    if args.json or not isinstance(value, dict):
        print_json(value)
    else:
        print_table(["key", "value"], sorted(value.items()))


def cmd_logs(args: argparse.Namespace) -> None:
    """The run's log (its file where readable, else the tail kept on the run); ``--follow``
    prints what is added until the run finishes."""
    runs = _runs()
    doc = runs.get(args.id)
    text, complete = runs.log(doc.id)
    if not text and not complete and not args.follow:
        raise CommandFailed(f"No log for {doc.id} yet (log_path: {doc.log_path or 'not set yet'}).")
    if args.follow and not complete and not doc.is_terminal:  # running on another machine
        print(text, flush=True)
        print("(running on another machine: the whole log follows when it ends)", file=sys.stderr, flush=True)
        while not doc.is_terminal:
            time.sleep(1)
            doc = runs.get(doc.id)
        text, complete = runs.log(doc.id)
    print(text, end="" if complete else "\n", flush=True)
    printed = len(text)
    while args.follow and complete and not doc.is_terminal:
        time.sleep(0.5)
        doc = runs.get(doc.id)
        text, complete = runs.log(doc.id)
        print(text[printed:], end="", flush=True)
        printed = len(text)


def _each(ids: list[str], action: Callable[[str], str]) -> None:
    """Apply ``action`` to each id; report every failure, then exit 1 if any failed."""
    errors = []
    for doc_id in ids:
        try:
            print(action(doc_id))
        except (StoreError, PluginError) as exc:
            errors.append(f"{doc_id}: {exc}")
    if errors:
        raise CommandFailed("\n".join(errors))


def cmd_fail(args: argparse.Namespace) -> None:
    runs = _runs()
    _each(args.ids, lambda i: f"{runs.mark_failed(i).id} marked failed")


def cmd_terminate(args: argparse.Namespace) -> None:
    runs = _runs()
    _each(args.ids, lambda i: f"{i} {runs.terminate(i, args.reason).run_state.value} (termination requested)")


# name -> (help, what the output line says, what it does to one id)
BULK_ACTIONS: dict[str, tuple[str, str, Callable[[Any, str], Any]]] = {
    "delete": ("delete operations that are not running", "deleted", lambda runs, i: runs.delete(i)),
    "archive": ("archive finished operations", "archived", lambda runs, i: runs.set_archived(i, True)),
    "unarchive": ("unarchive operations", "unarchived", lambda runs, i: runs.set_archived(i, False)),
    "pin": ("pin operations", "pinned", lambda runs, i: runs.set_pinned(i, True)),
    "unpin": ("unpin operations", "unpinned", lambda runs, i: runs.set_pinned(i, False)),
}


def cmd_bulk(args: argparse.Namespace) -> None:
    runs = _runs()
    _, done, action = BULK_ACTIONS[args.action]
    _each(args.ids, lambda i: f"{action(runs, i).id} {done}")


def cmd_rerun(args: argparse.Namespace) -> None:
    doc = _runs().rerun(args.id)
    print_json({"id": str(doc.id), "rerun_of": str(doc.rerun_of)}) if args.json else print(doc.id)


def cmd_label(args: argparse.Namespace) -> None:
    print(f"{_runs().set_label(args.id, args.label).id} labelled {args.label!r}")


def cmd_cleanup(args: argparse.Namespace) -> None:
    if not (args.operator or args.dataset or args.state or args.orphan):
        raise CommandFailed("No cleanup options given: use --operator, --dataset, --state and/or --orphan.")
    count = _runs().cleanup(args.operator, args.dataset, args.state, args.orphan, args.dry_run)
    print(f"{count} operation(s) {'would be deleted' if args.dry_run else 'deleted'}")
