"""The FastAPI app the api-server mounts: the pages, their static files and the API.

The API's description (``/openapi.json``) and its browsable docs (``/docs``) need a logged-in
Airflow user, like the API itself; the pages are static shells that call the API.
"""

from __future__ import annotations

import html
from importlib.resources import files
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from fiftyops_provider.airflow_compat import UI_TOKEN_IN_LOCAL_STORAGE
from fiftyops_provider.ui.routes import DOMAIN_ERRORS, current_user, handle_domain_error, router
from fiftyops_provider.ui.sdk_routes import sdk_router

STATIC = files("fiftyops_provider.ui") / "static"


def page(request: Request, name: str, run_id: str = "") -> HTMLResponse:
    """A page with its mount point filled in, so links work under any ``[api] base_url`` prefix."""
    text = (STATIC / name).read_text()
    text = text.replace("__BASE__", html.escape(request.scope.get("root_path", "").rstrip("/"), quote=True))
    text = text.replace("__TOKEN_IN_LOCAL_STORAGE__", "1" if UI_TOKEN_IN_LOCAL_STORAGE else "")
    return HTMLResponse(text.replace("__RUN_ID__", html.escape(run_id, quote=True)))


def create_app() -> FastAPI:
    app = FastAPI(
        title="FiftyOps",
        description="Runs, Run and Plugins pages for delegated operations.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.include_router(router)
    app.include_router(sdk_router)
    for error in DOMAIN_ERRORS:
        app.add_exception_handler(error, handle_domain_error)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.get("/runs", response_class=HTMLResponse, include_in_schema=False)
    def runs_page(request: Request) -> HTMLResponse:
        return page(request, "runs.html")

    @app.get("/runs/{run_id}", response_class=HTMLResponse, include_in_schema=False)
    def run_page(request: Request, run_id: str) -> HTMLResponse:
        return page(request, "run.html", run_id)

    @app.get("/plugins", response_class=HTMLResponse, include_in_schema=False)
    def plugins_page(request: Request) -> HTMLResponse:
        return page(request, "plugins.html")

    @app.get("/openapi.json", include_in_schema=False, dependencies=[Depends(current_user)])
    def openapi() -> dict[str, Any]:
        return app.openapi()

    @app.get("/docs", include_in_schema=False, dependencies=[Depends(current_user)])
    def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(openapi_url=f"{root}/openapi.json", title="FiftyOps API")

    return app
