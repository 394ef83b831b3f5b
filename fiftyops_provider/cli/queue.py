"""``fiftyops queue URI --dataset D --param k=v``: the CLI form of ``delegate()``."""

from __future__ import annotations

import argparse
import json
import sys

from fiftyops_provider.cli.output import operation_json, print_json
from fiftyops_provider.plugins.errors import PermissionDenied


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
    parser.add_argument(
        "--params-json",
        metavar="JSON",
        help="all inputs as one JSON object ('-' reads it from standard input); --param entries are added to it",
    )
    parser.add_argument("--label")
    parser.add_argument("--target", dest="delegation_target")
    parser.add_argument("--user", help="the queuing user (default FIFTYOPS_USER)")
    parser.set_defaults(func=cmd_queue)


class BadParam(ValueError):
    pass


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


def parse_params(pairs: list[str]) -> dict:
    """``KEY=VALUE`` pairs as a dict; a VALUE that is not strict JSON (``NaN`` included) is text."""
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise BadParam(f"--param {pair!r} must look like KEY=VALUE.")
        try:
            params[key] = json.loads(value, parse_constant=_not_json)
        except ValueError:
            params[key] = value
        except RecursionError:
            raise BadParam(f"--param {key}: the value nests too deeply; flatten it.") from None
    return params


def params_object(text: str) -> dict:
    """``--params-json``: one JSON object (strict: no NaN or Infinity)."""
    try:
        value = json.loads(sys.stdin.read() if text == "-" else text, parse_constant=_not_json)
    except ValueError as exc:
        raise BadParam(f"--params-json is not a JSON object: {exc}.") from None
    except RecursionError:
        raise BadParam("--params-json nests too deeply; flatten it.") from None
    if not isinstance(value, dict):
        raise BadParam(f"--params-json must be a JSON object, not {type(value).__name__}.")
    return value


def cmd_queue(args: argparse.Namespace) -> None:
    from fiftyops_provider import delegate
    from fiftyops_provider.access.run_rules import NO_ACTING_USER
    from fiftyops_provider.config import load_settings
    from fiftyops_provider.remote import remote_login

    if remote_login() is None and not (args.user or load_settings().user):
        raise PermissionDenied(NO_ACTING_USER)
    params = params_object(args.params_json) if args.params_json else {}
    doc = delegate(
        args.operator_uri,
        dataset=args.dataset,
        params={**params, **parse_params(args.param)},
        user=args.user,
        label=args.label,
        delegation_target=args.delegation_target,
    )
    print_json(operation_json(doc)) if args.json else print(doc.id)
