"""Running a ``fiftyops`` command in a child process for the api-server.

Installing a plugin and queueing an operation both import plugin code (to learn its operators, to
resolve an operator's inputs). Doing that inside the api-server would run a plugin module's
top-level code in the process that serves every Airflow user, so the api-server runs the CLI in a
child process, as the authenticated user, against the same database, and passes its one-line
error on unchanged.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

from fiftyops_provider.plugins.errors import PluginError

CLI = "import sys; from fiftyops_provider.cli.main import main; sys.exit(main())"
REMOTE_MODE_VARIABLES = ("FIFTYOPS_API_URL", "FIFTYOPS_API_TOKEN")


async def run_cli(
    args: list[str],
    acting_user: str,
    client_uri: str,
    database_name: str,
    timeout: float,
    timeout_message: str,
    stdin: bytes | None = None,
    cwd: str | None = None,
) -> Any:
    """The JSON that ``fiftyops --json <args>`` prints, run as ``acting_user`` in direct mode.

    :param args: the command line after ``fiftyops --json``.
    :param acting_user: the user the command acts as (``FIFTYOPS_USER``).
    :param client_uri: the database the api-server uses.
    :param database_name: its FiftyOps database.
    :param timeout: seconds before the child is killed.
    :param timeout_message: the error then (what to do about it).
    :param stdin: bytes to send to the command's standard input.
    :param cwd: the child's working directory.
    """
    env = {k: v for k, v in os.environ.items() if k not in REMOTE_MODE_VARIABLES}
    env.update(FIFTYOPS_DATABASE_URI=client_uri, FIFTYOPS_DATABASE_NAME=database_name, FIFTYOPS_USER=acting_user)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CLI,
        "--json",
        *args,
        env=env,
        cwd=cwd,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(stdin), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise PluginError(timeout_message) from None
    if process.returncode != 0:
        lines = err.decode(errors="replace").strip().splitlines()
        message = next((line.removeprefix("error: ") for line in reversed(lines) if line.startswith("error: ")), None)
        raise PluginError(message or f"The command failed (exit code {process.returncode}): {' '.join(lines[-3:])}")
    return json.loads(out)
