#!/usr/bin/env bash
# Lint, format and type checks (config in pyproject.toml). CI runs this before the tests, so a
# style or type error fails in seconds instead of after the suite.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/bootstrap.sh"
cd "$ROOT"
ruff check .
ruff format --check .
mypy
