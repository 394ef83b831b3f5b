"""Plugin fixtures: a registry on the test database, an admin, and plugin directories made on the fly."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from fiftyops_provider.plugins.registry import PluginRegistry

REPO_PLUGINS = Path(__file__).resolve().parents[2] / "plugins_repo"

OPERATOR_TEMPLATE = """
from fiftyops_provider.plugins import Inputs, Operator, OperatorConfig


class {cls}(Operator):
    @property
    def config(self):
        return OperatorConfig(name="{name}", label="{label}", allow_delegated_execution={delegated})

    def resolve_input(self, ctx):
        return Inputs().int("n", required=True).str("note", default="hi")

    def execute(self, ctx):
        return {{"version": "{version}", "n": ctx.params["n"]}}
"""


def write_plugin(
    root: Path,
    name: str = "@test/demo",
    operators=("double",),
    version: str = "1.0",
    delegated: bool = True,
    extra_yml: str = "",
    entry_code: str | None = None,
) -> Path:
    """A plugin directory whose operators return their version, so tests can tell versions apart."""
    root.mkdir(parents=True, exist_ok=True)
    ops = "\n".join(f"  - {op}" for op in operators)
    (root / "fiftyone.yml").write_text(f'name: "{name}"\nversion: "{version}"\noperators:\n{ops}\n{extra_yml}')
    if entry_code is None:
        classes = [
            OPERATOR_TEMPLATE.format(cls=f"Op{i}", name=op, label=op.title(), delegated=delegated, version=version)
            for i, op in enumerate(operators)
        ]
        entry_code = (
            "\n".join(classes)
            + "\n\ndef register(p):\n"
            + "".join(f"    p.register(Op{i})\n" for i in range(len(operators)))
        )
    (root / "__init__.py").write_text(textwrap.dedent(entry_code))
    return root


@pytest.fixture
def admin(monkeypatch) -> str:
    monkeypatch.setenv("FIFTYOPS_USER", "root")
    return "root"


@pytest.fixture
def registry(db, tmp_path, admin) -> PluginRegistry:
    return PluginRegistry(db, cache_dir=tmp_path / "worker-a")
