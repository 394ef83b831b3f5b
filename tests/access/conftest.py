"""Access tests use the plugin tests' registry and admin (a plugin's operators carry the minimums)."""

from tests.plugins.conftest import admin, registry  # noqa: F401 (fixtures)
