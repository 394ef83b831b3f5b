"""``fiftyops datasets list|create``: the datasets operations run on."""

from __future__ import annotations

import argparse

from fiftyops_provider.cli.output import print_json, print_table
from fiftyops_provider.datasets.catalog import create_dataset, list_datasets


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("datasets", help="list or create datasets")
    sub = group.add_subparsers(dest="action", required=True)
    sub.add_parser("list", help="all datasets").set_defaults(func=cmd_list)
    create = sub.add_parser("create", help="create an empty dataset (fill it with @fiftyops/io/import_samples)")
    create.add_argument("name")
    create.set_defaults(func=cmd_create)


def _db():
    from fiftyops_provider.database import get_database

    return get_database()


def cmd_list(args: argparse.Namespace) -> None:
    rows = [{"id": d.id, "name": d.name, "samples": d.count()} for d in list_datasets(_db())]
    print_json(rows) if args.json else print_table(["id", "name", "samples"], [list(r.values()) for r in rows])


def cmd_create(args: argparse.Namespace) -> None:
    dataset = create_dataset(_db(), args.name)
    print_json({"id": dataset.id, "name": dataset.name}) if args.json else print(dataset.id)
