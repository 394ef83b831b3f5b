"""The Airflow plugin the provider ships (``airflow.plugins`` entry point): mounts the FiftyOps app
at ``/fiftyops`` in the api-server and adds "FiftyOps Runs" and "FiftyOps Plugins" to the UI's nav.

Every Airflow process loads plugins, task processes included, so this module stays light: the app
(FastAPI, Airflow's auth dependencies, pymongo; about a second to import) is built the first time
``fastapi_apps`` is read, which only the api-server does.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from fiftyops_provider.airflow_compat import nav_entries

URL_PREFIX = "/fiftyops"


class _AppOnFirstRead:
    """A class attribute computed once, on first read."""

    def __init__(self) -> None:
        self._apps: list[dict[str, Any]] | None = None

    def __get__(self, instance: object, owner: type) -> list[dict[str, Any]]:
        if self._apps is None:
            from fiftyops_provider.ui.app import create_app

            self._apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "FiftyOps"}]
        return self._apps


class FiftyOpsUIPlugin(AirflowPlugin):
    name = "fiftyops"
    fastapi_apps = _AppOnFirstRead()
    external_views = nav_entries(
        [
            {
                "name": "FiftyOps Runs",
                "href": f"{URL_PREFIX}/runs",
                "destination": "nav",
                "url_route": "fiftyops-runs",
                "nav_top_level": True,
            },
            {
                "name": "FiftyOps Plugins",
                "href": f"{URL_PREFIX}/plugins",
                "destination": "nav",
                "url_route": "fiftyops-plugins",
                "category": "admin",
            },
        ]
    )
