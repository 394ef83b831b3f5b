"""``fiftyops login`` / ``fiftyops logout``: remote mode for people who are not admins.

``login`` trades an Airflow user name and password for a token at Airflow's ``/auth/token`` and
stores the API URL and the token (owner-only file); from then on ``fiftyops delegated ...``,
``fiftyops queue`` and the SDK act through the FiftyOps API as that Airflow user.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from fiftyops_provider.cli.delegated import CommandFailed
from fiftyops_provider.remote import credentials_file, log_in, log_out


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    login = subparsers.add_parser("login", help="log in to the FiftyOps API in Airflow (remote mode)")
    login.add_argument("--api-url", default=os.environ.get("FIFTYOPS_API_URL"), help="the Airflow api-server URL")
    login.add_argument("-u", "--username", required=True, help="your Airflow user")
    login.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    login.set_defaults(func=cmd_login)
    subparsers.add_parser("logout", help="forget the stored login").set_defaults(func=cmd_logout)


def cmd_login(args: argparse.Namespace) -> None:
    if not args.api_url:
        raise CommandFailed("Give --api-url (or set FIFTYOPS_API_URL): the Airflow api-server's URL.")
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("Airflow password: ")
    login = log_in(args.api_url, args.username, password)
    print(f"Logged in to {login.api_url} as {args.username}; the token is in {credentials_file()}.")


def cmd_logout(args: argparse.Namespace) -> None:
    print("Logged out." if log_out() else "Not logged in.")
