"""The FiftyOps API inside a real Airflow api-server: who the caller is, what they may see and do,
and that every refusal is a clear error that changes nothing."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest
import requests
from bson import ObjectId

from fiftyops_provider.hooks.airflow_rest_client import AirflowAPI
from fiftyops_provider.plugins.delegate import delegate
from tests.fiftyone.conftest import write_fiftyone_plugin

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.airflow


def call(ui_server, user: str | None, method: str, path: str, **kwargs) -> requests.Response:
    session = ui_server.client(user) if user else requests.Session()
    return session.request(method, ui_server.url(path), timeout=60, **kwargs)


def ok(response: requests.Response):
    assert response.status_code == 200, response.text
    return response.json()


def refused(response: requests.Response, status: int, says: str) -> None:
    assert response.status_code == status, response.text
    assert says in response.json()["detail"]


def test_the_plugin_is_registered_with_airflow_and_serves_its_pages(ui_server):
    plugins = ui_server.client("admin").get(f"{ui_server.base_url}/api/v2/plugins", timeout=30).json()["plugins"]
    ours = next(p for p in plugins if p["name"] == "fiftyops")
    assert {v["href"] for v in ours["external_views"]} == {"/fiftyops/runs", "/fiftyops/plugins"}
    page = requests.get(ui_server.url("/runs"), timeout=30)
    assert page.status_code == 200 and 'data-base="/fiftyops"' in page.text
    assert requests.get(ui_server.url("/static/runs.js"), timeout=30).status_code == 200


def test_callers_are_airflow_users_mapped_to_fiftyops_roles(ui_server, seeded):
    refused(call(ui_server, None, "GET", "/api/me"), 401, "Not authenticated")
    assert ok(call(ui_server, "admin", "GET", "/api/me")) == {"name": "admin", "role": "ADMIN", "is_admin": True}
    assert ok(call(ui_server, "olga", "GET", "/api/me"))["role"] == "MEMBER"  # the FiftyOps record wins
    assert ok(call(ui_server, "vic", "GET", "/api/me"))["role"] == "GUEST"  # created on first sight from "viewer"
    assert seeded.db.fiftyops_users.find_one({"_id": "vic"})["role"] == 0
    assert [d["name"] for d in ok(call(ui_server, "uma", "GET", "/api/datasets"))] == ["birds"]
    assert [d["name"] for d in ok(call(ui_server, "admin", "GET", "/api/datasets"))] == ["birds", "cars"]


def test_listing_shows_each_user_what_they_may_see(ui_server, seeded):
    on_birds = seeded.queue("count_samples", user="olga")
    on_cars = seeded.queue("count_samples", dataset_id=seeded.other_dataset_id)
    admin_all = ok(call(ui_server, "admin", "GET", "/api/runs"))
    assert {r["id"] for r in admin_all["items"]} == {str(on_birds.id), str(on_cars.id)}
    refused(call(ui_server, "olga", "GET", "/api/runs"), 403, "choose a dataset or My runs")
    refused(call(ui_server, "olga", "GET", "/api/runs", params={"dataset_id": seeded.other_dataset_id}), 403, "no VIEW")
    birds = ok(call(ui_server, "uma", "GET", "/api/runs", params={"dataset_id": seeded.dataset_id}))
    assert [r["id"] for r in birds["items"]] == [str(on_birds.id)] and birds["items"][0]["can_change"] is False
    mine = ok(call(ui_server, "olga", "GET", "/api/runs", params={"mine": "true"}))
    assert [r["id"] for r in mine["items"]] == [str(on_birds.id)] and mine["items"][0]["can_change"] is True
    assert ok(call(ui_server, "vic", "GET", "/api/runs", params={"mine": "true"}))["items"] == []
    refused(call(ui_server, "vic", "GET", f"/api/runs/{on_birds.id}"), 404, "No delegated operation")


def test_filter_sort_search_and_page(ui_server, seeded):
    sleeps = [seeded.queue("sleep", seconds=1) for _ in range(3)]
    count = seeded.queue("count_samples")
    seeded.service.set_label(count.id, "Nightly census")
    failed = seeded.run(seeded.queue("fail"))
    assert failed.run_state.value == "failed"

    def ids(**params):
        return [r["id"] for r in ok(call(ui_server, "admin", "GET", "/api/runs", params=params))["items"]]

    assert ids(state=["failed"]) == [str(failed.id)]
    assert ids(sort="oldest")[:3] == [str(d.id) for d in sleeps]
    assert ids(sort="operator")[0] == str(count.id)  # count_samples < fail < sleep
    assert set(ids(search="sleep")) == {str(d.id) for d in sleeps}
    assert ids(search="Sleep") == []  # case-sensitive, operator URI only
    assert ids(search="census") == [] and ids(search="Census", search_label="true") == []
    assert ids(search="census", search_label="true") == [str(count.id)]
    page = ok(call(ui_server, "admin", "GET", "/api/runs", params={"limit": 2, "skip": 2}))
    assert page["total"] == 5 and len(page["items"]) == 2
    waiting = ok(call(ui_server, "admin", "GET", "/api/runs", params={"state": ["queued"], "sort": "oldest"}))["items"]
    assert [r["queue_position"] for r in waiting] == [1, 2, 3, 4]  # admitted when the failing one ran
    refused(call(ui_server, "admin", "GET", "/api/runs", params={"sort": "random"}), 400, "Unknown sort")
    refused(call(ui_server, "admin", "GET", "/api/runs", params={"state": ["exploded"]}), 400, "exploded")
    refused(call(ui_server, "admin", "GET", "/api/runs", params={"limit": 100000}), 400, "limit")


def test_run_page_shows_inputs_outputs_errors_and_logs(ui_server, seeded):
    done = seeded.run(seeded.queue("sleep", seconds=1))
    detail = ok(call(ui_server, "admin", "GET", f"/api/runs/{done.id}"))
    assert detail["run_state"] == "completed" and detail["inputs"] == {"seconds": 1}
    assert detail["inputs_schema"]["properties"]["seconds"]["type"] == "integer"
    assert detail["outputs"] == {"slept": 1} and detail["view"]["dataset_name"] == "birds"
    logs = ok(call(ui_server, "admin", "GET", f"/api/runs/{done.id}/logs"))
    assert logs["download_only"] is False and logs["complete"] is True
    assert any("slept 0 of 1 seconds" in e["message"] for e in logs["entries"])
    download = call(ui_server, "admin", "GET", f"/api/runs/{done.id}/logs/download")
    assert "attachment" in download.headers["content-disposition"] and "slept 0 of 1 seconds" in download.text

    failed = seeded.run(seeded.queue("fail"))
    errors = ok(call(ui_server, "admin", "GET", f"/api/runs/{failed.id}"))
    assert errors["error_message"] and "Traceback" in errors["error"]

    seeded.db.delegated_ops.update_one({"_id": done.id}, {"$set": {"log_size": 5 * 1024 * 1024}})
    big = ok(call(ui_server, "admin", "GET", f"/api/runs/{done.id}/logs"))
    assert big["download_only"] is True and big["entries"] == []
    refused(call(ui_server, "admin", "GET", "/api/runs/not-an-id"), 400, "not-an-id")
    refused(call(ui_server, "admin", "GET", "/api/runs/64b7f0000000000000000000"), 404, "64b7f0000000000000000000")


def test_a_pipeline_run_lists_its_stages(ui_server, seeded, tmp_path):
    for plugin in ("io", "pipelines"):
        seeded.registry.install(ROOT / "plugins_repo" / plugin, acting_user="admin")
    pipeline = delegate(
        "@fiftyops/pipelines/measure_and_export",
        ObjectId(seeded.dataset_id),
        {"path": str(tmp_path / "export.json")},
        user="admin",
        db=seeded.db,
    )
    assert seeded.run(pipeline).run_state.value == "completed"
    detail = ok(call(ui_server, "admin", "GET", f"/api/runs/{pipeline.id}"))
    assert [(s["name"], s["operator"], s["always_run"]) for s in detail["stages"]] == [
        ("measure", "@fiftyops/utils/compute_field", False),
        ("export", "@fiftyops/io/export_samples", False),
        ("cleanup", "@fiftyops/pipelines/report_cleanup", True),
    ]
    assert detail["run_state"] == "completed" and detail["children"] == []  # stages ran inside the one operation
    assert ok(call(ui_server, "admin", "GET", f"/api/runs/{seeded.queue('count_samples').id}"))["stages"] == []


def test_row_actions_and_their_refusals(ui_server, seeded):
    doc = seeded.queue("count_samples", user="olga")
    before = seeded.db.delegated_ops.find_one({"_id": doc.id})
    refused(call(ui_server, "uma", "POST", f"/api/runs/{doc.id}/pin", json={"pinned": True}), 403, "cannot change")
    refused(call(ui_server, "uma", "POST", f"/api/runs/{doc.id}/label", json={"label": "x"}), 403, "cannot change")
    refused(call(ui_server, "uma", "POST", f"/api/runs/{doc.id}/terminate", json={}), 403, "cannot change")
    refused(call(ui_server, "uma", "POST", f"/api/runs/{doc.id}/rerun", json={}), 403, "needs MEMBER")
    refused(call(ui_server, "olga", "POST", f"/api/runs/{doc.id}/label", json={"label": ""}), 400, "label")
    assert seeded.db.delegated_ops.find_one({"_id": doc.id}) == before
    assert seeded.db.delegated_ops.count_documents({}) == 1

    assert ok(call(ui_server, "olga", "POST", f"/api/runs/{doc.id}/pin", json={"pinned": True}))["pinned"] is True
    assert [r["id"] for r in ok(call(ui_server, "olga", "GET", "/api/runs/pinned", params={"mine": "true"}))] == [
        str(doc.id)
    ]
    assert (
        ok(call(ui_server, "olga", "POST", f"/api/runs/{doc.id}/label", json={"label": "Census"}))["label"] == "Census"
    )
    rerun = ok(call(ui_server, "admin", "POST", f"/api/runs/{doc.id}/rerun", json={}))
    assert rerun["queued_by"] == "admin" and rerun["run_state"] == "scheduled" and rerun["label"] == "Census"
    stopped = ok(call(ui_server, "olga", "POST", f"/api/runs/{doc.id}/terminate", json={"reason": "wrong dataset"}))
    assert stopped["run_state"] == "failed" and "wrong dataset" in stopped["error_message"]
    refused(call(ui_server, "olga", "POST", f"/api/runs/{doc.id}/mark-failed", json={}), 400, "already failed")
    failed = ok(call(ui_server, "admin", "POST", f"/api/runs/{rerun['id']}/mark-failed", json={}))
    assert failed["run_state"] == "failed" and "marked failed by admin" in failed["error_message"]


def test_marking_a_pipeline_child_failed_records_its_error_on_the_parent(ui_server, seeded):
    parent = seeded.service.queue_operation("@o/p/pipe", pipeline={"stages": [{"operator_uri": "@o/p/a"}]})
    child = seeded.service.queue_operation("@o/p/a", parent_id=parent.id, initial_state="queued")
    failed = ok(call(ui_server, "admin", "POST", f"/api/runs/{child.id}/mark-failed", json={}))
    assert failed["run_state"] == "failed"
    errors = seeded.service.get(parent.id).pipeline_run_info["child_errors"]
    assert errors == {str(child.id): "marked failed by admin from the Runs page"}


ZIP = {"Content-Type": "application/zip"}


def zip_of(directory) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(directory).as_posix())
    return buffer.getvalue()


def test_plugins_are_managed_by_admins_only(ui_server, seeded):
    listing = ok(call(ui_server, "uma", "GET", "/api/plugins"))
    assert listing["can_manage"] is False and [p["name"] for p in listing["plugins"]] == ["@fiftyops/utils"]
    before = list(seeded.db.fiftyops_plugins.find())
    refused(
        call(ui_server, "uma", "POST", "/api/plugins/enabled", json={"name": "@fiftyops/utils", "enabled": False}),
        403,
        "not an admin",
    )
    refused(
        call(
            ui_server,
            "olga",
            "POST",
            "/api/plugins/operator",
            json={"name": "@fiftyops/utils", "operator": "sleep", "minimum_role": "GUEST"},
        ),
        403,
        "not an admin",
    )
    refused(
        call(ui_server, "uma", "POST", "/api/plugins/uninstall", json={"name": "@fiftyops/utils"}), 403, "not an admin"
    )
    refused(
        call(ui_server, "uma", "POST", "/api/plugins", data=zip_of(ROOT / "plugins_repo" / "io"), headers=ZIP),
        403,
        "only admins",
    )
    refused(
        call(ui_server, "uma", "PUT", "/api/org-settings", json={"default_operator_minimum_role": "GUEST"}),
        403,
        "only admins",
    )
    refused(
        call(
            ui_server,
            "admin",
            "POST",
            "/api/plugins/operator",
            json={"name": "@fiftyops/utils", "operator": "sleep", "minimum_role": "EMPEROR"},
        ),
        400,
        "Unknown role",
    )
    refused(
        call(ui_server, "admin", "POST", "/api/plugins/operator", json={"name": "@fiftyops/utils", "operator": "nope"}),
        404,
        "no operator 'nope'",
    )
    assert list(seeded.db.fiftyops_plugins.find()) == before

    changed = ok(
        call(
            ui_server,
            "admin",
            "POST",
            "/api/plugins/operator",
            json={
                "name": "@fiftyops/utils",
                "operator": "sleep",
                "enabled": False,
                "minimum_role": "ADMIN",
                "minimum_dataset_permission": "MANAGE",
            },
        )
    )
    sleep = changed["operators"]["sleep"]
    assert (sleep["enabled"], sleep["minimum_role"], sleep["minimum_dataset_permission"]) == (False, "ADMIN", "MANAGE")
    assert (
        ok(
            call(ui_server, "admin", "POST", "/api/plugins/enabled", json={"name": "@fiftyops/utils", "enabled": False})
        )["enabled"]
        is False
    )
    settings = ok(
        call(
            ui_server, "admin", "PUT", "/api/org-settings", json={"default_operator_minimum_dataset_permission": "VIEW"}
        )
    )
    assert settings == {
        "default_operator_minimum_role": "MEMBER",
        "default_operator_minimum_dataset_permission": "VIEW",
    }
    assert ok(call(ui_server, "uma", "GET", "/api/org-settings")) == settings

    installed = ok(
        call(ui_server, "admin", "POST", "/api/plugins", data=zip_of(ROOT / "plugins_repo" / "io"), headers=ZIP)
    )
    assert installed["name"] == "@fiftyops/io"
    assert all(op["minimum_dataset_permission"] == "VIEW" for op in installed["operators"].values())  # the new default
    refused(
        call(ui_server, "admin", "POST", "/api/plugins", data=zip_of(ROOT / "plugins_repo" / "io"), headers=ZIP),
        400,
        "already installed",
    )
    upgraded = ok(
        call(
            ui_server,
            "admin",
            "POST",
            "/api/plugins",
            params={"overwrite": "true"},
            data=zip_of(ROOT / "plugins_repo" / "io"),
            headers=ZIP,
        )
    )
    assert upgraded["name"] == "@fiftyops/io"
    refused(
        call(ui_server, "admin", "POST", "/api/plugins", data=b"PK\x03\x04 not really a zip", headers=ZIP), 400, "zip"
    )
    refused(call(ui_server, "admin", "POST", "/api/plugins", data=b"", headers=ZIP), 400, "empty")
    assert seeded.db.fiftyops_plugins.count_documents({}) == 2
    assert ok(call(ui_server, "admin", "POST", "/api/plugins/uninstall", json={"name": "@fiftyops/io"})) == {
        "uninstalled": "@fiftyops/io"
    }
    assert [p["name"] for p in ok(call(ui_server, "admin", "GET", "/api/plugins"))["plugins"]] == ["@fiftyops/utils"]


@pytest.mark.fiftyone
def test_a_fiftyone_plugin_is_installed_and_governed_from_the_plugins_page(ui_server, seeded, tmp_path):
    if not os.environ.get("FIFTYOPS_TEST_FIFTYONE_PYTHON"):
        pytest.skip("needs the FiftyOne venv: run `bash scripts/bootstrap_fiftyone.sh` (scripts/test.sh does)")
    archive = zip_of(write_fiftyone_plugin(tmp_path / "slow"))
    # validated by the FiftyOne interpreter, from the api-server's install child
    installed = ok(call(ui_server, "admin", "POST", "/api/plugins", data=archive, headers=ZIP))
    assert installed["runtime"] == "fiftyone" and installed["operators"]["slow"]["delegation_capable"] is True
    listing = ok(call(ui_server, "uma", "GET", "/api/plugins"))
    runtimes = {p["name"]: p["runtime"] for p in listing["plugins"]}
    assert runtimes == {"@test/slow": "fiftyone", "@fiftyops/utils": "fiftyops"}
    builtins = {op["uri"]: op for op in listing["fiftyone_operators"]}
    assert builtins["@voxel51/operators/clear_sample_field"]["runtime"] == "fiftyone"
    assert listing["fiftyone_error"] is None

    settings = {"execution_timeout": 120, "on_reset": "rerun", "max_attempts": 3}
    policy = {"name": "@test/slow", "operator": "slow", **settings}
    refused(call(ui_server, "uma", "POST", "/api/plugins/operator", json=policy), 403, "not an admin")
    refused(
        call(ui_server, "admin", "POST", "/api/plugins/operator", json={**policy, "on_reset": "retry"}), 400, "on_reset"
    )
    changed = ok(call(ui_server, "admin", "POST", "/api/plugins/operator", json=policy))
    assert changed["operators"]["slow"]["policy_override"] == settings


def test_an_existing_pool_is_resized_through_the_rest_api(ui_server):
    """Every Airflow 3 minor refuses a PATCH of ``slots`` alone (422): the client sends the whole pool."""
    api = AirflowAPI(ui_server.base_url, "admin", ui_server.passwords["admin"])
    api.create_pool("fiftyops-resize", 2, "resized by the test")
    api.create_pool("fiftyops-resize", 5, "resized by the test")
    assert api.request("GET", "/pools/fiftyops-resize")["slots"] == 5
