"""Refusing state changes a browser could be tricked into sending from another site.

The pages authenticate with Airflow's ``_token`` cookie, which the browser attaches to any request
for the api-server, including one a page on another site (or another port of the same host, which
``SameSite`` counts as the same site) makes it send. Such a request can be a form post or a
``no-cors`` fetch: it cannot carry a custom header or a JSON content type, and the browser marks
it with the page's ``Origin`` and ``Sec-Fetch-Site``. So a state change authenticated by the
cookie needs all of:

* ``Origin``, when sent, equal to the api-server's own (the address the request came to, or
  ``[api] base_url``), and ``Sec-Fetch-Site``, when sent, ``same-origin``;
* the ``X-FiftyOps-Request`` header, which the pages send and a cross-site form cannot.

A request with ``Authorization: Bearer <token>`` is exempt: a browser never adds that header on
its own, so whoever sent it held the token (the CLI, the SDK, scripts).

Every state change also names its body's type: JSON (``{}`` when there is nothing to say), or for
plugin uploads a ZIP (``application/zip``) or a multipart form.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from fastapi import HTTPException, Request

PAGE_HEADER = "X-FiftyOps-Request"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
UPLOAD_TYPES = ("application/zip", "multipart/form-data")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def has_bearer_token(request: Request) -> bool:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and bool(credentials.strip())


def cross_site_refusal(request: Request, configured_urls: Iterable[str]) -> str | None:
    """Why this request must be refused as possibly cross-site, or None when it may proceed."""
    if request.method in SAFE_METHODS or has_bearer_token(request):
        return None
    own = {_origin(str(request.base_url)), *(_origin(url) for url in configured_urls if url)}
    only_here = "FiftyOps changes are accepted only from the Airflow UI itself."
    origin = request.headers.get("origin")
    if origin is not None and origin.lower() not in own:
        return f"Refused a {request.method} from {origin}: {only_here}"
    site = request.headers.get("sec-fetch-site")
    if site is not None and site != "same-origin":
        return f"Refused a {site} {request.method}: {only_here}"
    if PAGE_HEADER.lower() not in request.headers:
        return (
            f"Refused a {request.method} without the {PAGE_HEADER} header: send it (the FiftyOps pages do), "
            "or authenticate with Authorization: Bearer <token> from /auth/token."
        )
    return None


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def require_json(request: Request) -> None:
    """Dependency of every JSON state change: the body must be declared JSON."""
    if _media_type(request) != "application/json":
        raise HTTPException(
            415, "Send a JSON body with Content-Type: application/json ({} when there is nothing to set)."
        )


def require_upload(request: Request) -> None:
    """Dependency of plugin uploads: a ZIP body, or a multipart form with the ZIP as ``file``."""
    if _media_type(request) not in UPLOAD_TYPES:
        raise HTTPException(
            415,
            "Send the plugin as the body with Content-Type: application/zip, or as the 'file' field of a "
            "multipart/form-data form.",
        )
