"""The pages in a real headless Chromium (Debian's, driven by Playwright) against the real
api-server: what a user clicks, and what the store holds afterwards. Screenshots of each page go
to ``test-artifacts/screenshots/`` (not committed)."""

from __future__ import annotations

import base64
import http.server
import os
import shutil
import threading
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from fiftyops_provider.airflow_compat import AIRFLOW_3_1_PLUS
from tests.ui.test_api import zip_of

pytestmark = pytest.mark.airflow

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps calling Google hosts this sandbox refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            "Chromium is missing: run scripts/ensure_system_packages.sh (Debian packages chromium and chromium-driver)."
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def close_tabs(browser: Browser) -> Iterator[None]:
    """Close each test's tabs after it: an open Runs page keeps polling as its user, and its
    requests would meet the next test's freshly reset store."""
    yield
    for context in browser.contexts:
        context.close()


def open_as(browser: Browser, ui_server, user: str) -> Page:
    """A browser tab logged in to Airflow as ``user`` (the session cookie the Airflow UI uses)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    context.add_cookies([{"name": "_token", "value": ui_server.token(user), "url": ui_server.base_url}])
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    return page


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def row(page: Page, doc_id) -> object:
    return page.locator(f'tr[data-run-id="{doc_id}"]')


def test_runs_page_filters_searches_and_acts_on_runs(browser, ui_server, seeded):
    done = seeded.run(seeded.queue("sleep", seconds=1))
    broken = seeded.run(seeded.queue("fail"))
    waiting = seeded.queue("count_samples", user="olga")
    page = open_as(browser, ui_server, "admin")
    page.goto(ui_server.url("/runs"))
    expect(page.get_by_test_id("run-row")).to_have_count(3)
    expect(row(page, broken.id).get_by_test_id("state")).to_have_text("failed")
    expect(row(page, waiting.id).get_by_test_id("state")).to_have_attribute(
        "title", "scheduled\nposition 1 in the scheduled queue\nqueued by olga"
    )
    screenshot(page, "runs")

    page.locator('#states input[value="failed"]').check()
    expect(page.get_by_test_id("run-row")).to_have_count(1)
    page.locator('#states input[value="failed"]').uncheck()
    page.get_by_test_id("search").fill("count_")
    page.get_by_test_id("search").press("Enter")
    expect(page.get_by_test_id("run-row")).to_have_count(1)
    page.get_by_test_id("search").fill("")
    page.get_by_test_id("search").press("Enter")
    expect(page.get_by_test_id("run-row")).to_have_count(3)

    row(page, done.id).get_by_test_id("pin").click()
    expect(page.get_by_test_id("pinned-run")).to_have_count(1)
    assert seeded.service.get(done.id).pinned is True

    row(page, done.id).get_by_test_id("rename").click()
    page.get_by_test_id("rename-input").fill("Warm-up nap")
    page.get_by_test_id("rename-input").press("Enter")
    expect(row(page, done.id).get_by_test_id("run-label")).to_have_text("Warm-up nap")
    assert seeded.service.get(done.id).label == "Warm-up nap"

    row(page, done.id).get_by_test_id("rerun").click()
    expect(page.get_by_test_id("run-row")).to_have_count(4)
    assert seeded.db.delegated_ops.count_documents({"rerun_of": done.id, "queued_by": "admin"}) == 1

    row(page, waiting.id).get_by_test_id("mark-failed").click()
    expect(row(page, waiting.id).get_by_test_id("state")).to_have_text("failed")
    assert "marked failed by admin" in seeded.service.get(waiting.id).result.error_message
    screenshot(page, "runs-after-actions")


def test_a_user_sees_only_what_they_may(browser, ui_server, seeded):
    theirs = seeded.queue("count_samples", user="olga")
    seeded.queue("count_samples", dataset_id=seeded.other_dataset_id)
    page = open_as(browser, ui_server, "uma")  # VIEW on birds only
    page.goto(ui_server.url("/runs"))
    expect(page.get_by_test_id("scope")).to_have_value("all")
    expect(page.get_by_test_id("run-row")).to_have_count(1)
    expect(row(page, theirs.id).get_by_test_id("pin")).to_have_count(0)  # not theirs, no EDIT: no row changes
    expect(page.locator("#dataset option")).to_have_text(["birds"])
    screenshot(page, "runs-as-viewer")


def test_run_page_shows_input_output_errors_and_logs(browser, ui_server, seeded):
    done = seeded.run(seeded.queue("sleep", seconds=1))
    broken = seeded.run(seeded.queue("fail"))
    page = open_as(browser, ui_server, "admin")
    page.goto(ui_server.url(f"/runs/{done.id}"))
    expect(page.get_by_test_id("panel")).to_contain_text("Seconds")
    expect(page.get_by_test_id("summary")).to_contain_text("completed")
    expect(page.get_by_test_id("summary")).not_to_contain_text("null")  # a finished run has no progress bar
    page.get_by_test_id("show-raw").check()
    expect(page.get_by_test_id("raw")).to_contain_text('"seconds": 1')
    screenshot(page, "run-input")
    page.get_by_test_id("tab-output").click()
    expect(page.get_by_test_id("panel")).to_contain_text("slept")
    screenshot(page, "run-output")
    page.get_by_test_id("tab-logs").click()
    expect(page.get_by_test_id("log-table")).to_contain_text("slept 0 of 1 seconds")
    screenshot(page, "run-logs")
    page.get_by_test_id("tab-view").click()
    expect(page.get_by_test_id("panel")).to_contain_text("birds")

    page.goto(ui_server.url(f"/runs/{broken.id}"))
    expect(page.get_by_test_id("error-message")).not_to_be_empty()
    expect(page.get_by_test_id("summary")).not_to_contain_text("null")
    expect(page.get_by_test_id("trace")).to_contain_text("Traceback")
    screenshot(page, "run-errors")


def test_the_logs_tab_tails_a_running_operation(browser, ui_server, seeded):
    doc = seeded.queue("sleep", seconds=6)
    runner = threading.Thread(target=seeded.run, args=(doc,))
    runner.start()
    try:
        page = open_as(browser, ui_server, "admin")
        deadline = time.monotonic() + 30
        while seeded.service.get(doc.id).run_state.value != "running" and time.monotonic() < deadline:
            time.sleep(0.2)
        page.goto(ui_server.url(f"/runs/{doc.id}"))
        page.get_by_test_id("tab-logs").click()
        expect(page.get_by_test_id("log-table")).to_contain_text("slept 0 of 6 seconds", timeout=15_000)
        expect(page.get_by_test_id("log-table")).to_contain_text(
            "slept 4 of 6 seconds", timeout=15_000
        )  # new lines, no reload
        expect(page.locator("#logs")).to_contain_text("live")
        screenshot(page, "run-logs-live")
    finally:
        runner.join(60)
    assert seeded.service.get(doc.id).run_state.value == "completed"


def test_plugins_page_installs_and_governs_plugins(browser, ui_server, seeded, tmp_path):
    archive = tmp_path / "io.zip"
    source = ROOT / "plugins_repo" / "io"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(source.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                zf.write(path, path.relative_to(source).as_posix())
    page = open_as(browser, ui_server, "admin")
    page.goto(ui_server.url("/plugins"))
    page.get_by_test_id("upload-file").set_input_files(str(archive))
    page.get_by_test_id("upload").click()
    expect(page.locator("#message")).to_contain_text(
        "Installed @fiftyops/io", timeout=60_000
    )  # a child process installs it
    expect(page.get_by_test_id("plugin")).to_have_count(2)
    assert seeded.db.fiftyops_plugins.find_one({"_id": "@fiftyops/io"}) is not None

    utils = page.locator('[data-plugin="@fiftyops/utils"]')
    utils.locator('[data-operator="sleep"]').get_by_test_id("operator-enabled").uncheck()
    expect(page.locator("#message")).to_contain_text("sleep disabled")
    utils = page.locator('[data-plugin="@fiftyops/utils"]')
    utils.locator('[data-operator="sleep"]').get_by_test_id("minimum-role").select_option("ADMIN")
    expect(page.locator("#message")).to_contain_text("sleep now needs ADMIN")
    spec = seeded.db.fiftyops_plugins.find_one({"_id": "@fiftyops/utils"})["operators"]["sleep"]
    assert spec["enabled"] is False and spec["minimum_role"] == 3
    expect(utils.locator('[data-operator="sleep"]').get_by_test_id("execution-policy")).to_contain_text("on_reset")
    if os.environ.get("FIFTYOPS_TEST_FIFTYONE_PYTHON"):  # the api-server has the FiftyOne runtime: its builtins
        expect(page.get_by_test_id("fiftyone-operators")).to_contain_text("@voxel51/operators/clear_sample_field")
    screenshot(page, "plugins-admin")

    viewer = open_as(browser, ui_server, "uma")
    viewer.goto(ui_server.url("/plugins"))
    expect(viewer.get_by_test_id("plugin")).to_have_count(2)
    expect(viewer.get_by_test_id("upload-form")).to_be_hidden()
    expect(viewer.get_by_test_id("minimum-role").first).to_be_disabled()
    screenshot(viewer, "plugins-non-admin")


def test_the_runs_page_opens_inside_the_airflow_ui(browser, ui_server, seeded):
    seeded.queue("count_samples")
    page = open_as(browser, ui_server, "admin")
    if not AIRFLOW_3_1_PLUS:
        # Airflow 3.0: no nav entry; the page opens at its own URL in a tab where the Airflow UI ran
        # first (it moves the session from the cookie into localStorage and deletes the cookie).
        page.goto(f"{ui_server.base_url}/")
        page.wait_for_function("() => localStorage.getItem('token') !== null", timeout=30_000)
        page.goto(f"{ui_server.base_url}/fiftyops/runs")
        expect(page.get_by_test_id("run-row")).to_have_count(1, timeout=30_000)
        screenshot(page, "airflow-3.0-runs")
        return
    page.goto(f"{ui_server.base_url}/plugin/fiftyops-runs")
    frame = page.frame_locator("iframe").first
    expect(frame.get_by_test_id("run-row")).to_have_count(1, timeout=30_000)
    screenshot(page, "airflow-nav-runs")


ATTACKER_PAGE = """<!doctype html><html><body>
<iframe name="sink"></iframe>
<form id="form" method="POST" enctype="multipart/form-data" target="sink" action="{target}">
  <input type="file" name="file" id="file">
</form>
<script>
const zip = Uint8Array.from(atob("{zip}"), (c) => c.charCodeAt(0));
async function attack() {{
  // 1. A script on another site: a no-cors fetch with a raw body (no preflight, cookie attached).
  try {{
    await fetch("{target}", {{ method: "POST", mode: "no-cors", credentials: "include", body: new Blob([zip]) }});
  }} catch (e) {{}}
  // 2. A plain HTML form: multipart, the ZIP as its file field.
  const files = new DataTransfer();
  files.items.add(new File([zip], "plugin.zip", {{ type: "application/zip" }}));
  document.getElementById("file").files = files.files;
  document.querySelector("iframe").addEventListener("load", () => {{ document.title = "attacked"; }});
  document.getElementById("form").submit();
}}
attack();
</script></body></html>"""


@contextmanager
def served_elsewhere(html: str) -> Iterator[str]:
    """``html`` served from another port of the same host (the same site, another origin)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_a_page_on_another_port_cannot_make_the_admin_install_a_plugin(browser, ui_server, seeded):
    """The admin is logged in (the ``_token`` cookie, which the browser also attaches to requests
    a page of another port of the same host makes); that page tries a no-cors fetch and a form."""
    target = ui_server.url("/api/plugins")
    archive = base64.b64encode(zip_of(ROOT / "plugins_repo" / "io")).decode()
    admin = open_as(browser, ui_server, "admin")
    with served_elsewhere(ATTACKER_PAGE.format(target=target, zip=archive)) as attacker:
        admin.goto(attacker)
        # Both answers are back (the fetch is awaited before the form is sent; an install that
        # got through answers only once its child process has finished).
        expect(admin).to_have_title("attacked", timeout=120_000)
    assert [p["_id"] for p in seeded.db.fiftyops_plugins.find()] == ["@fiftyops/utils"]
