"""CLI tests use the plugin tests' registry and admin fixtures."""

from tests.plugins.conftest import admin, registry  # noqa: F401 (fixtures)
