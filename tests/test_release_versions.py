"""The release's version is true everywhere it is written: pyproject, the CHANGELOG's newest
section, and every ``version_added`` of the provider's config options."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.version import Version

from fiftyops_provider.provider_info import get_provider_info

ROOT = Path(__file__).resolve().parents[1]


def package_version() -> Version:
    return Version(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])


def changelog_versions() -> list[Version]:
    return [Version(v) for v in re.findall(r"^## (\S+)", (ROOT / "CHANGELOG.md").read_text(), flags=re.M)]


def test_the_changelog_starts_with_this_release():
    assert changelog_versions()[0] == package_version()


def test_every_config_option_was_added_in_a_released_version():
    released = set(changelog_versions())
    for section in get_provider_info()["config"].values():
        for name, option in section["options"].items():
            added = Version(option["version_added"])
            assert added <= package_version() and added in released, f"{name} says added in {added}"
