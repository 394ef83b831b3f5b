"""Installing a plugin never runs its code in the caller, gives up on code that hangs or exits,
leaves nothing behind, and refuses names that cannot become a unique Airflow DAG id."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import psutil
import pytest

import fiftyops_provider.management as fom
from fiftyops_provider.cli.main import main
from fiftyops_provider.plugins import InvalidPlugin
from tests.plugins.conftest import write_plugin

HANGING = """
import os, subprocess
grandchild = subprocess.Popen(["sleep", "300"])  # would outlive the import
with open({pids!r}, "w") as f:
    f.write(f"{{os.getpid()}} {{grandchild.pid}}")

def register(p):
    while True:
        pass
"""


def _nothing_installed(registry, root: Path) -> None:
    assert registry.collection.count_documents({}) == 0
    assert registry.files.files.count_documents({}) == 0
    assert not [p for p in registry.cache_dir.glob("*") if not p.name.startswith(".")], "a cached version is left"


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_register_that_never_returns_is_stopped_after_the_timeout_and_leaves_nothing(registry, tmp_path, monkeypatch):
    monkeypatch.setenv("FIFTYOPS_PLUGIN_VALIDATION_TIMEOUT", "2")
    pids = tmp_path / "pid"
    plugin = write_plugin(tmp_path / "hang", entry_code=HANGING.format(pids=str(pids)))

    started = time.monotonic()
    with pytest.raises(InvalidPlugin, match=r"register\(\) did not finish within 2 s and was stopped"):
        registry.install(plugin)

    assert time.monotonic() - started < 15
    _nothing_installed(registry, plugin)
    started = [int(pid) for pid in pids.read_text().split()]  # the validating child and its grandchild
    deadline = time.monotonic() + 5  # SIGKILL is delivered asynchronously
    while [pid for pid in started if not _gone(pid)] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [pid for pid in started if not _gone(pid)] == []


def test_os_exit_0_at_import_is_a_crash_not_a_success(registry, tmp_path):
    plugin = write_plugin(tmp_path / "exit", entry_code="import os\nos._exit(0)\n")

    with pytest.raises(InvalidPlugin, match=r"ended \(exit code 0\) before register\(\) finished"):
        registry.install(plugin)

    _nothing_installed(registry, plugin)


def test_import_time_code_runs_in_a_child_without_credentials(registry, tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_FIFTYOPS_DEFAULT", "mongodb://u:mongo-pw-7f3a@db/fiftyops")
    report = tmp_path / "import-report.json"
    entry = (
        "import json, os\n"
        f"with open({str(report)!r}, 'w') as f:\n"
        "    json.dump({'pid': os.getpid(), 'env': sorted(os.environ)}, f)\n"
        "os.environ['FIFTYOPS_PLUGIN_RAN_HERE'] = '1'\n"
        "from fiftyops_provider.plugins import Operator, OperatorConfig\n"
        "class Double(Operator):\n"
        "    @property\n"
        "    def config(self):\n"
        "        return OperatorConfig(name='double', allow_delegated_execution=True)\n"
        "def register(p):\n"
        "    p.register(Double)\n"
    )

    info = registry.install(write_plugin(tmp_path / "p", name="@test/isolated", entry_code=entry))

    assert info["operators"]["double"]["delegation_capable"] is True
    seen = json.loads(report.read_text())
    assert seen["pid"] != os.getpid() and "FIFTYOPS_PLUGIN_RAN_HERE" not in os.environ
    assert not [name for name in seen["env"] if name.startswith(("AIRFLOW", "FIFTYOPS_DATABASE"))]
    assert not [name for name in sys.modules if name.startswith("fiftyops_plugin_test_isolated")]


def test_the_cli_reports_a_hanging_plugin_in_one_line(db, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FIFTYOPS_USER", "root")
    monkeypatch.setenv("FIFTYOPS_PLUGIN_VALIDATION_TIMEOUT", "1")
    plugin = write_plugin(tmp_path / "hang", entry_code=HANGING.format(pids=str(tmp_path / "pid")))

    code = main(["plugins", "install", str(plugin)])

    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1 and "did not finish within 1 s" in err, err
    assert fom.list_plugins() == []


def test_a_bad_validation_timeout_is_a_clear_error(registry, tmp_path, monkeypatch):
    monkeypatch.setenv("FIFTYOPS_PLUGIN_VALIDATION_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="FIFTYOPS_PLUGIN_VALIDATION_TIMEOUT='soon' is not a number of seconds"):
        registry.install(write_plugin(tmp_path / "p"))


def test_an_operator_whose_dag_id_would_exceed_airflows_limit_is_refused_before_its_code_runs(registry, tmp_path):
    marker = tmp_path / "imported"
    plugin = write_plugin(
        tmp_path / "long",
        name="@org/" + "p" * 300,
        entry_code=f"open({str(marker)!r}, 'w').close()\ndef register(p):\n    pass\n",
    )

    with pytest.raises(InvalidPlugin, match=r"characters long \(Airflow allows 250\); shorten the plugin"):
        registry.install(plugin)

    assert not marker.exists()
    _nothing_installed(registry, plugin)


def test_operators_of_two_plugins_that_would_share_a_dag_id_are_refused(registry, tmp_path):
    registry.install(write_plugin(tmp_path / "a", name="@a/x", operators=("y__z",)))

    with pytest.raises(InvalidPlugin, match=r"@a/x__y/z and operator @a/x/y__z would both be the Airflow DAG"):
        registry.install(write_plugin(tmp_path / "b", name="@a/x__y", operators=("z",)))

    assert [p["name"] for p in registry.list_plugins()] == ["@a/x"]
    registry.install(write_plugin(tmp_path / "a2", name="@a/x", operators=("y__z",), version="2"), overwrite=True)
