"""``fiftyops queue URI --dataset D --param k=v``: the CLI form of ``delegate()``."""

from __future__ import annotations

import argparse
import json

from fiftyops_provider.cli.output import operation_json, print_json


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("queue", help="queue a delegated operation")
    parser.add_argument("operator_uri")
    parser.add_argument("-d", "--dataset")
    parser.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an input; VALUE is parsed as JSON when it can be (5, true, [1,2]), else taken as text",
    )
    parser.add_argument("--label")
    parser.add_argument("--target", dest="delegation_target")
    parser.add_argument("--user", help="the queuing user (default FIFTYOPS_USER)")
    parser.set_defaults(func=cmd_queue)


class BadParam(ValueError):
    pass


def parse_params(pairs: list[str]) -> dict:
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise BadParam(f"--param {pair!r} must look like KEY=VALUE.")
        try:
            params[key] = json.loads(value)
        except ValueError:
            params[key] = value
    return params


def cmd_queue(args: argparse.Namespace) -> None:
    from fiftyops_provider import delegate

    doc = delegate(
        args.operator_uri,
        dataset=args.dataset,
        params=parse_params(args.param),
        user=args.user,
        label=args.label,
        delegation_target=args.delegation_target,
    )
    print_json(operation_json(doc)) if args.json else print(doc.id)
