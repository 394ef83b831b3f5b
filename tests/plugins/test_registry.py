"""Install, upgrade, uninstall, enable/disable, defaults, atomic failed upgrade, GridFS materialization."""

from __future__ import annotations

import pytest

import fiftyops_provider.management as fom
from fiftyops_provider.plugins import InvalidPlugin, OperatorDisabled, OperatorNotFound, PermissionDenied, PluginError
from fiftyops_provider.plugins.context import ExecutionContext
from fiftyops_provider.plugins.registry import PluginRegistry
from tests.plugins.conftest import write_plugin


def _ctx(**params) -> ExecutionContext:
    return ExecutionContext({"params": params})


def test_install_lists_plugin_with_enabled_operators_and_default_permissions(registry, tmp_path):
    info = registry.install(write_plugin(tmp_path / "p", operators=("double", "triple")))
    assert info["name"] == "@test/demo" and info["version"] == "1.0" and info["enabled"]
    assert set(info["operators"]) == {"double", "triple"}
    for spec in info["operators"].values():
        assert (spec["enabled"], spec["minimum_role"], spec["minimum_dataset_permission"]) == (True, "MEMBER", "EDIT")
    ops = registry.list_operators()
    assert [o.uri for o in ops] == ["@test/demo/double", "@test/demo/triple"]
    assert ops[0].inputs_schema["required"] == ["n"] and ops[0].delegation_capable


def test_installing_an_installed_plugin_needs_overwrite(registry, tmp_path):
    registry.install(write_plugin(tmp_path / "v1"))
    with pytest.raises(PluginError, match="overwrite=True"):
        registry.install(write_plugin(tmp_path / "v2", version="2.0"))
    assert registry.get_plugin_info("@test/demo")["version"] == "1.0"


def test_upgrade_keeps_settings_of_kept_operators_and_defaults_new_ones(registry, tmp_path):
    registry.install(write_plugin(tmp_path / "v1", operators=("double",)))
    registry.set_operator("@test/demo", "double", enabled=False, minimum_role="GUEST")
    old_hash = registry.get_plugin_info("@test/demo")["content_hash"]
    info = registry.install(
        write_plugin(tmp_path / "v2", operators=("double", "triple"), version="2.0"), overwrite=True
    )
    assert info["version"] == "2.0"
    assert (info["operators"]["double"]["enabled"], info["operators"]["double"]["minimum_role"]) == (False, "GUEST")
    assert (info["operators"]["triple"]["enabled"], info["operators"]["triple"]["minimum_role"]) == (True, "MEMBER")
    assert registry.load_operator("@test/demo/triple").execute(_ctx(n=3)) == {"version": "2.0", "n": 3}
    assert registry.files.files.count_documents({"filename": old_hash}) == 0  # old version's files removed


def test_an_upgrade_with_another_yml_name_is_a_new_plugin(registry, tmp_path):
    registry.install(write_plugin(tmp_path / "v1"))
    registry.install(write_plugin(tmp_path / "v2", name="@test/renamed"), overwrite=True)
    assert [p["name"] for p in registry.list_plugins()] == ["@test/demo", "@test/renamed"]


def test_failed_upgrade_leaves_the_previous_version_installed_and_runnable(registry, tmp_path):
    registry.install(write_plugin(tmp_path / "v1"))
    broken = write_plugin(tmp_path / "v2", version="2.0", entry_code="import does_not_exist\n")
    with pytest.raises(InvalidPlugin, match=r"(?s)importing __init__\.py failed.*ModuleNotFoundError"):
        registry.install(broken, overwrite=True)
    assert registry.get_plugin_info("@test/demo")["version"] == "1.0"
    fresh = PluginRegistry(registry.db, cache_dir=tmp_path / "worker-b")
    assert fresh.load_operator("@test/demo/double").execute(_ctx(n=2)) == {"version": "1.0", "n": 2}


def test_uninstall(registry, tmp_path):
    registry.install(write_plugin(tmp_path / "p"))
    registry.uninstall("@test/demo")
    assert registry.list_plugins() == [] and registry.files.files.count_documents({}) == 0
    with pytest.raises(OperatorNotFound):
        registry.load_operator("@test/demo/double")
    with pytest.raises(PluginError, match="not installed"):
        registry.uninstall("@test/demo")


def test_disable_plugin_or_operator_hides_it_and_refuses_runs(registry, tmp_path):
    registry.install(write_plugin(tmp_path / "p", operators=("double", "triple")))
    registry.set_operator("@test/demo", "triple", enabled=False)
    assert [o.name for o in registry.list_operators()] == ["double"]
    with pytest.raises(OperatorDisabled, match="Operator @test/demo/triple is disabled"):
        registry.check_runnable("@test/demo/triple", "root", None, None)
    registry.set_enabled("@test/demo", False)
    assert registry.list_operators() == []
    with pytest.raises(OperatorDisabled, match="Plugin @test/demo is disabled"):
        registry.check_runnable("@test/demo/double", "root", None, None)
    registry.set_enabled("@test/demo", True)
    registry.check_runnable("@test/demo/double", "root", None, None)


def test_operators_not_allowing_delegation_are_listed_but_not_runnable(registry, tmp_path):
    registry.install(write_plugin(tmp_path / "p", delegated=False))
    assert not registry.list_operators()[0].delegation_capable
    with pytest.raises(OperatorDisabled, match="does not allow delegated execution"):
        registry.check_runnable("@test/demo/double", "root", None, None)


def test_organization_defaults_apply_to_new_operators_only(db, tmp_path, admin):
    fom.upload_plugin(write_plugin(tmp_path / "a", name="@test/a"))
    fom.set_organization_settings(
        default_operator_minimum_role=fom.COLLABORATOR, default_operator_minimum_dataset_permission="view"
    )
    assert fom.get_organization_settings().default_operator_minimum_role is fom.COLLABORATOR
    fom.upload_plugin(write_plugin(tmp_path / "b", name="@test/b"))
    assert fom.get_plugin_info("@test/a")["operators"]["double"]["minimum_role"] == "MEMBER"
    spec = fom.get_plugin_info("@test/b")["operators"]["double"]
    assert (spec["minimum_role"], spec["minimum_dataset_permission"]) == ("COLLABORATOR", "VIEW")


def test_management_sdk_operator_settings(db, tmp_path, admin):
    fom.upload_plugin(write_plugin(tmp_path / "p"))
    fom.set_plugin_operator_enabled(
        "@test/demo", "double", enabled=False, minimum_role=fom.ADMIN, minimum_dataset_permission=fom.MANAGE
    )
    spec = fom.get_plugin_info("@test/demo")["operators"]["double"]
    assert (spec["enabled"], spec["minimum_role"], spec["minimum_dataset_permission"]) == (False, "ADMIN", "MANAGE")
    fom.set_plugin_operator_permissions("@test/demo", "double", minimum_role="guest")
    assert fom.get_plugin_info("@test/demo")["operators"]["double"]["minimum_role"] == "GUEST"
    with pytest.raises(OperatorNotFound, match="has no operator 'nope'"):
        fom.set_plugin_operator_enabled("@test/demo", "nope", enabled=True)
    with pytest.raises(PluginError, match="Unknown role"):
        fom.set_plugin_operator_permissions("@test/demo", "double", minimum_role="emperor")


def test_mutations_need_an_admin_and_the_first_user_bootstraps(db, tmp_path, monkeypatch):
    monkeypatch.delenv("FIFTYOPS_USER", raising=False)
    plugin = write_plugin(tmp_path / "p")
    fom.upload_plugin(plugin, acting_user="founder")  # fresh install: founder becomes the admin
    assert [(u.name, u.role) for u in fom.list_users()] == [("founder", fom.ADMIN)]
    fom.create_user("dev", fom.MEMBER, acting_user="founder")
    with pytest.raises(PermissionDenied, match="dev"):
        fom.set_plugin_enabled("@test/demo", False, acting_user="dev")
    with pytest.raises(PermissionDenied, match="no acting user"):
        fom.delete_plugin("@test/demo")
    assert fom.get_plugin_info("@test/demo")["enabled"]


def test_a_failing_command_on_a_database_shared_with_fiftyone_makes_no_admin(db, tmp_path, monkeypatch):
    """The reported case: FiftyOne's runs and datasets, no FiftyOps user yet; a guest's
    ``plugins uninstall`` of a plugin that is not there failed, and left the guest an admin."""
    from fiftyops_provider.cli.main import main
    from fiftyops_provider.datasets.catalog import create_dataset
    from fiftyops_provider.store import DelegatedOperationService

    create_dataset(db, "fiftyone-dataset")
    DelegatedOperationService(db).queue_operation("@voxel51/utils/op")
    monkeypatch.setenv("FIFTYOPS_USER", "guest")
    assert main(["plugins", "uninstall", "@nope/nope"]) == 1
    with pytest.raises(PluginError):
        fom.upload_plugin(tmp_path / "missing")
    with pytest.raises(PluginError, match="not installed"):
        fom.set_plugin_operator_enabled("@nope/nope", "x", enabled=False)
    assert fom.list_users() == []


def test_the_bootstrap_admin_needs_an_empty_installation(db, tmp_path, monkeypatch):
    """Plugins but no users (say, the users collection was dropped) is not empty: nobody
    becomes admin by acting first."""
    monkeypatch.delenv("FIFTYOPS_USER", raising=False)
    fom.upload_plugin(write_plugin(tmp_path / "p"), acting_user="founder")
    db["fiftyops_users"].delete_many({})
    with pytest.raises(PermissionDenied, match="latecomer"):
        fom.set_plugin_enabled("@test/demo", False, acting_user="latecomer")
    assert fom.list_users() == [] and fom.get_plugin_info("@test/demo")["enabled"]


def test_a_second_worker_materializes_the_exact_version_from_gridfs(registry, tmp_path):
    registry.install(write_plugin(tmp_path / "p", version="7.1"))
    digest = registry.get_plugin_info("@test/demo")["content_hash"]
    worker_b = PluginRegistry(registry.db, cache_dir=tmp_path / "worker-b")
    operator = worker_b.load_operator("@test/demo/double")
    assert operator.uri == "@test/demo/double"
    assert (tmp_path / "worker-b" / digest / "fiftyone.yml").read_text() == (
        tmp_path / "p" / "fiftyone.yml"
    ).read_text()


def test_zip_with_a_top_level_folder_installs_like_its_directory(registry, tmp_path):
    import shutil

    source = write_plugin(tmp_path / "src" / "demo")
    archive = shutil.make_archive(str(tmp_path / "demo"), "zip", root_dir=tmp_path / "src")
    info = registry.install(archive)
    assert info["name"] == "@test/demo"
    assert info["content_hash"] == registry.install(source, overwrite=True)["content_hash"]


def _between_read_and_write(registry, action):
    """Run ``action`` once, after ``registry.install`` read the plugin document and before it writes."""
    original = registry._plugin_document
    done = []

    def hooked(*args):
        if not done:
            done.append(True)
            action()
        return original(*args)

    registry._plugin_document = hooked


def test_concurrent_first_installs_cannot_both_succeed(registry, tmp_path):
    other = PluginRegistry(registry.db, cache_dir=tmp_path / "admin-b")
    _between_read_and_write(registry, lambda: other.install(write_plugin(tmp_path / "b", version="B")))
    with pytest.raises(PluginError, match="already installed"):
        registry.install(write_plugin(tmp_path / "a", version="A"))
    assert registry.get_plugin_info("@test/demo")["version"] == "B"
    assert registry.files.files.count_documents({}) == 1  # the loser's archive is not left behind


def test_an_admin_change_made_during_an_upgrade_is_kept(registry, tmp_path):
    registry.install(write_plugin(tmp_path / "v1"))
    revision = registry.collection.find_one({"_id": "@test/demo"})["revision"]
    other = PluginRegistry(registry.db, cache_dir=tmp_path / "admin-b")
    _between_read_and_write(
        registry, lambda: other.set_operator("@test/demo", "double", enabled=False, minimum_role="ADMIN")
    )
    info = registry.install(write_plugin(tmp_path / "v2", version="2.0"), overwrite=True)
    assert info["version"] == "2.0"
    assert (info["operators"]["double"]["enabled"], info["operators"]["double"]["minimum_role"]) == (False, "ADMIN")
    assert info["revision"] == revision + 2  # the admin change, then the upgrade


def test_a_worker_racing_an_upgrade_loads_the_new_version(registry, tmp_path):
    """The worker read v1's hash, then the upgrade removed v1's archive before the worker fetched it."""
    registry.install(write_plugin(tmp_path / "v1", version="1.0"))
    worker = PluginRegistry(registry.db, cache_dir=tmp_path / "worker-b")
    real_get = worker.files.get
    upgraded = []

    def get(digest):
        if not upgraded:
            upgraded.append(True)
            registry.install(write_plugin(tmp_path / "v2", version="2.0"), overwrite=True)
        return real_get(digest)

    worker.files.get = get
    assert worker.load_operator("@test/demo/double").execute(_ctx(n=1)) == {"version": "2.0", "n": 1}


def test_not_found_messages_say_which_part_is_missing(registry, tmp_path):
    registry.install(write_plugin(tmp_path / "p"))
    with pytest.raises(OperatorNotFound, match="plugin @test/nope is not installed"):
        registry.load_operator("@test/nope/double")
    with pytest.raises(OperatorNotFound, match=r"has \['double'\]"):
        registry.check_runnable("@test/demo/nope", "root", None, None)


def test_check_runnable_resolves_a_dataset_given_by_name(registry, db, tmp_path):
    from fiftyops_provider.datasets.catalog import create_dataset

    registry.install(write_plugin(tmp_path / "p"))
    dataset = create_dataset(db, "named")
    registry.users.create("editor", "MEMBER")
    registry.users.grant("editor", dataset.id, "EDIT")
    registry.check_runnable("@test/demo/double", "editor", None, "named")
    with pytest.raises(PermissionDenied, match="NO_ACCESS"):
        registry.check_runnable("@test/demo/double", "editor", None, "unknown")
