"""The FiftyOps API's web boundary inside a real Airflow api-server: no state change a page on
another site could make the browser send, no API or docs without an identity, bounded input
(400/422 with a message, never a 500), and nothing revealed about runs the caller may not see."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from fiftyops_provider.store.query import MAX_REGEX_LENGTH
from tests.ui.test_api import ZIP, call, ok, refused, zip_of

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.airflow
PAGE = {"X-FiftyOps-Request": "1"}


def waiting_run(seeded, user: str, dataset_id: str):
    """A scheduled run queued by ``user`` on a dataset, whatever their permissions (the test's own
    setup, straight through the store)."""
    request = {"dataset_id": dataset_id, "dataset_name": None, "params": {}}
    return seeded.service.queue_operation(
        "@fiftyops/utils/count_samples", context={"request_params": request}, queued_by=user
    )


def cookie_session(ui_server, user: str) -> requests.Session:
    """A caller authenticated like the pages: the ``_token`` cookie, no Authorization header."""
    session = requests.Session()
    session.cookies.set("_token", ui_server.token(user))
    return session


def test_cookie_writes_need_the_pages_header_and_the_ui_s_own_origin(ui_server, seeded):
    doc = seeded.queue("count_samples", user="olga")
    browser = cookie_session(ui_server, "olga")
    pin = ui_server.url(f"/api/runs/{doc.id}/pin")
    own = ui_server.base_url

    def post(**headers) -> requests.Response:
        return browser.post(pin, json={"pinned": True}, headers=headers, timeout=30)

    refused(post(), 403, "without the X-FiftyOps-Request header")
    refused(post(**PAGE, Origin="http://127.0.0.1:1"), 403, "from http://127.0.0.1:1")
    refused(post(**PAGE, Origin=own, **{"Sec-Fetch-Site": "same-site"}), 403, "same-site")
    assert seeded.service.get(doc.id).pinned is False
    assert ok(post(**PAGE, Origin=own, **{"Sec-Fetch-Site": "same-origin"}))["pinned"] is True
    assert ok(browser.get(ui_server.url("/api/me"), timeout=30))["name"] == "olga"  # reads need no header

    # A Bearer token is not something a browser sends by itself: scripts and the CLI keep working.
    bearer = ui_server.client("olga")
    response = bearer.post(pin, json={"pinned": False}, headers={"Origin": "http://elsewhere"}, timeout=30)
    assert ok(response)["pinned"] is False


def test_state_changes_declare_their_body(ui_server, seeded):
    doc = seeded.queue("count_samples", user="olga")
    admin = ui_server.client("admin")
    for action in ("rerun", "mark-failed", "terminate"):
        refused(admin.post(ui_server.url(f"/api/runs/{doc.id}/{action}"), timeout=30), 415, "JSON body")
        text = admin.post(ui_server.url(f"/api/runs/{doc.id}/{action}"), data="{}", timeout=30)
        refused(text, 415, "Content-Type: application/json")
    refused(admin.post(ui_server.url("/api/plugins"), data=b"PK", timeout=30), 415, "application/zip")
    refused(
        admin.post(ui_server.url("/api/plugins"), data=b"PK", headers={"Content-Type": "text/plain"}, timeout=30),
        415,
        "multipart/form-data",
    )
    assert (
        seeded.db.delegated_ops.count_documents({}) == 1 and seeded.service.get(doc.id).run_state.value == "scheduled"
    )
    assert ok(admin.post(ui_server.url(f"/api/runs/{doc.id}/terminate"), json={}, timeout=30))["run_state"] == "failed"
    installed = admin.post(
        ui_server.url("/api/plugins"),
        files={"file": ("io.zip", zip_of(ROOT / "plugins_repo" / "io"), "application/zip")},
        timeout=120,
    )
    assert ok(installed)["name"] == "@fiftyops/io"  # a multipart upload (what a form or an SDK sends)
    assert call(ui_server, "admin", "POST", "/api/plugins", data=b"", headers=ZIP).status_code == 400


def test_the_api_description_and_docs_need_an_identity(ui_server, seeded):
    for path in ("/openapi.json", "/docs"):
        assert requests.get(ui_server.url(path), timeout=30).status_code == 401
    assert requests.get(ui_server.url("/redoc"), timeout=30).status_code == 404
    spec = ok(call(ui_server, "vic", "GET", "/openapi.json"))
    assert "/api/runs/{doc_id}/rerun" in spec["paths"]
    docs = call(ui_server, "vic", "GET", "/docs")
    assert docs.status_code == 200 and "/fiftyops/openapi.json" in docs.text


def test_paging_and_search_values_are_bounded_with_a_message(ui_server, seeded):
    seeded.queue("count_samples")

    def listing(**params) -> requests.Response:
        return call(ui_server, "admin", "GET", "/api/runs", params=params)

    refused(listing(skip=9223372036854775808), 400, "skip must be at most 9223372036854775807")
    refused(listing(skip=-1), 400, "skip must be a non-negative integer")
    refused(listing(limit=0), 400, "limit must be between 1 and 1000")
    refused(listing(limit=2**64), 400, "limit must be between 1 and 1000")
    refused(listing(search="a\x00b"), 400, "NUL")
    refused(listing(search="a\x00b", search_label="true"), 400, "NUL")
    refused(listing(dataset_id="a\x00b"), 400, "not a valid ObjectId")
    refused(listing(state="queued\x00"), 400, "queued")
    # The limit counts what the user typed: 200 dots are 200 characters, not their 400 escaped.
    assert ok(listing(search="." * 200))["items"] == []
    assert ok(listing(search="." * 200, search_label="true"))["items"] == []
    refused(listing(search="." * 300), 400, f"Search text is 300 characters; the limit is {MAX_REGEX_LENGTH}")


def test_dataset_ids_are_matched_in_any_case_like_run_ids(ui_server, seeded):
    doc = seeded.queue("count_samples", user="olga")
    upper = seeded.dataset_id.upper()
    listing = ok(call(ui_server, "uma", "GET", "/api/runs", params={"dataset_id": upper}))  # uma has VIEW on birds
    assert [r["id"] for r in listing["items"]] == [str(doc.id)]
    assert ok(call(ui_server, "uma", "GET", f"/api/runs/{str(doc.id).upper()}"))["id"] == str(doc.id)
    users = seeded.registry.users
    call(ui_server, "vic", "GET", "/api/me")  # vic appears on first sight
    users.grant("vic", upper, "VIEW")  # a grant given in upper case is the same grant
    assert seeded.db.fiftyops_users.find_one({"_id": "vic"})["datasets"] == {seeded.dataset_id: 1}
    assert [
        r["id"]
        for r in ok(call(ui_server, "vic", "GET", "/api/runs", params={"dataset_id": seeded.dataset_id}))["items"]
    ] == [str(doc.id)]


def test_runs_the_caller_may_not_see_stay_hidden(ui_server, seeded):
    """Queue positions count only what the caller may see, and a hidden run is "not found" like
    an unknown id (not "forbidden", which would confirm it exists)."""
    for _ in range(3):
        waiting_run(seeded, "admin", seeded.other_dataset_id)  # on cars, which uma may not see
    visible = waiting_run(seeded, "olga", seeded.dataset_id)  # on birds, which uma may VIEW
    mine = waiting_run(seeded, "uma", seeded.other_dataset_id)
    assert ok(call(ui_server, "admin", "GET", f"/api/runs/{mine.id}"))["queue_position"] == 5
    assert ok(call(ui_server, "uma", "GET", f"/api/runs/{mine.id}"))["queue_position"] == 2  # only olga's is ahead
    assert ok(call(ui_server, "uma", "GET", f"/api/runs/{visible.id}"))["queue_position"] == 1
    rows = ok(call(ui_server, "uma", "GET", "/api/runs", params={"mine": "true"}))["items"]
    assert [r["queue_position"] for r in rows] == [2]

    hidden = waiting_run(seeded, "admin", seeded.other_dataset_id)
    unknown = "64b7f0000000000000000000"
    for path in (f"/api/runs/{hidden.id}", f"/api/runs/{hidden.id}/logs", f"/api/runs/{hidden.id}/logs/download"):
        refused(call(ui_server, "uma", "GET", path), 404, "No delegated operation")
    refused(call(ui_server, "uma", "POST", f"/api/runs/{hidden.id}/pin", json={"pinned": True}), 404, str(hidden.id))
    refused(call(ui_server, "uma", "POST", f"/api/runs/{hidden.id}/rerun", json={}), 404, str(hidden.id))
    refused(call(ui_server, "uma", "GET", f"/api/runs/{unknown}"), 404, unknown)
