"""Installing an uploaded plugin ZIP without importing its code into the api-server.

Installing imports the plugin's entry module (to learn its operators). Doing that inside the
api-server would run an uploaded module's top-level code in the process that serves every
Airflow user, so the install runs in a child process (``fiftyops plugins install``) against the
same database, and its error message is passed on unchanged.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from fiftyops_provider.plugins.errors import PluginError

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
INSTALL_TIMEOUT_SECONDS = 120.0
CLI = "import sys; from fiftyops_provider.cli.main import main; sys.exit(main())"


async def install_uploaded_plugin(
    data: bytes, overwrite: bool, acting_user: str, client_uri: str, database_name: str
) -> dict[str, Any]:
    """Install ``data`` (a plugin ZIP) as ``acting_user``; the plugin's info, or PluginError."""
    if not data:
        raise PluginError("The upload is empty; choose a plugin .zip file.")
    with tempfile.TemporaryDirectory(prefix="fiftyops-upload-") as tmp:
        archive = Path(tmp) / "plugin.zip"
        archive.write_bytes(data)
        command = [sys.executable, "-c", CLI, "--json", "plugins", "install", str(archive)]
        env = {
            **os.environ,
            "FIFTYOPS_DATABASE_URI": client_uri,
            "FIFTYOPS_DATABASE_NAME": database_name,
            "FIFTYOPS_USER": acting_user,
        }
        process = await asyncio.create_subprocess_exec(
            *command,
            *(["--overwrite"] if overwrite else []),
            env=env,
            cwd=tmp,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(process.communicate(), INSTALL_TIMEOUT_SECONDS)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise PluginError(
                f"Installing took longer than {INSTALL_TIMEOUT_SECONDS:.0f} s and was stopped; does the plugin's entry "
                "module do work at import time? Move it into the operators and upload again."
            ) from None
    if process.returncode != 0:
        lines = err.decode(errors="replace").strip().splitlines()
        message = next((line.removeprefix("error: ") for line in reversed(lines) if line.startswith("error: ")), None)
        raise PluginError(message or f"Installing failed (exit code {process.returncode}): {' '.join(lines[-3:])}")
    return json.loads(out)
