"""``fiftyops db start|stop|status``: the embedded MongoDB."""

from __future__ import annotations

import argparse

from fiftyops_provider.cli.output import print_json
from fiftyops_provider.config import load_settings
from fiftyops_provider.database import embedded_server


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("db", help="the embedded MongoDB (used when FIFTYOPS_DATABASE_URI is not set)")
    sub = group.add_subparsers(dest="action", required=True)
    sub.add_parser("start", help="start (or reuse) the embedded mongod").set_defaults(func=cmd_start)
    sub.add_parser("stop", help="stop the embedded mongod").set_defaults(func=cmd_stop)
    sub.add_parser("status", help="is it running, and where").set_defaults(func=cmd_status)


def cmd_start(args: argparse.Namespace) -> None:
    server = embedded_server()
    uri = server.start()
    print_json({"uri": uri, "pid": server.recorded_pid()}) if args.json else print(
        f"mongod running: {uri} (pid {server.recorded_pid()})"
    )


def cmd_stop(args: argparse.Namespace) -> None:
    server = embedded_server()
    was = server.recorded_pid()
    server.stop()
    print_json({"stopped": was}) if args.json else print(
        f"stopped mongod pid {was}" if was else "mongod was not running"
    )


def cmd_status(args: argparse.Namespace) -> None:
    settings = load_settings()
    server = embedded_server(settings)
    status = {
        "configured_uri": settings.database_uri,
        "embedded_running": server.is_running(),
        "embedded_uri": server.uri,
        "embedded_pid": server.recorded_pid(),
        "dbpath": str(server.dbpath),
        "database": settings.database_name,
    }
    if args.json:
        print_json(status)
    else:
        for key, value in status.items():
            print(f"{key + ':':<18} {'' if value is None else value}")
