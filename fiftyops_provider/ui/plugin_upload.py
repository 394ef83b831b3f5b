"""Installing an uploaded plugin ZIP without importing its code into the api-server.

Installing imports the plugin's entry module (to learn its operators), so the install runs in a
child process (``fiftyops plugins install``, see ``cli_child``) against the same database.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fiftyops_provider.plugins.errors import PluginError
from fiftyops_provider.ui.cli_child import run_cli

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
INSTALL_TIMEOUT_SECONDS = 120.0


async def install_uploaded_plugin(
    data: bytes, overwrite: bool, acting_user: str, client_uri: str, database_name: str
) -> dict[str, Any]:
    """Install ``data`` (a plugin ZIP) as ``acting_user``; the plugin's info, or PluginError."""
    if not data:
        raise PluginError("The upload is empty; choose a plugin .zip file.")
    with tempfile.TemporaryDirectory(prefix="fiftyops-upload-") as tmp:
        archive = Path(tmp) / "plugin.zip"
        archive.write_bytes(data)
        return await run_cli(
            ["plugins", "install", str(archive), *(["--overwrite"] if overwrite else [])],
            acting_user,
            client_uri,
            database_name,
            INSTALL_TIMEOUT_SECONDS,
            f"Installing took longer than {INSTALL_TIMEOUT_SECONDS:.0f} s and was stopped; does the plugin's entry "
            "module do work at import time? Move it into the operators and upload again.",
            cwd=tmp,
        )
