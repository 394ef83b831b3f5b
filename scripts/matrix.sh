#!/usr/bin/env bash
# The Airflow version matrix: for each older Airflow 3 minor with a tested set in
# constraints/airflow-<minor>.txt, a venv with that set and this package's wheel, then the Airflow
# end-to-end subset (tests/matrix/subset.txt) against it. The newest minor is the project venv
# (.venv, constraints.txt), where scripts/test.sh runs the whole suite.
#
# Venvs live in $FIFTYOPS_MATRIX_HOME/airflow-<minor> (default ~/.cache/fiftyops/matrix, outside the
# checkout, so a fresh clone on the same machine, as CI is, reuses them) and are rebuilt one at a
# time, only when the package's requirements or their constraints file changed (a content-hash stamp, as scripts/bootstrap.sh does); the wheel
# built from this checkout is reinstalled on every run, without dependencies, so the tests run the
# code as it is now. Prints how long each version took.
#
# Usage: bash scripts/matrix.sh [MINOR...]   e.g. `bash scripts/matrix.sh 3.0`; default: every minor.
# Extra pytest arguments: MATRIX_PYTEST_ARGS="-x -vv".
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
cd "$ROOT"
MATRIX_HOME="${FIFTYOPS_MATRIX_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/fiftyops/matrix}"

if [ "$#" -gt 0 ]; then
  minors=("$@")
else
  minors=()
  for file in constraints/airflow-*.txt; do
    minor="${file#constraints/airflow-}"
    minors+=("${minor%.txt}")
  done
fi
mapfile -t subset < <(grep -v '^\s*\(#\|$\)' tests/matrix/subset.txt)

wheel_dir="$(mktemp -d)"
trap 'rm -rf "$wheel_dir"' EXIT
"$PYTHON" -m pip wheel --quiet --no-deps --wheel-dir "$wheel_dir" "$ROOT"
wheel="$(ls "$wheel_dir"/*.whl)"
# What a venv depends on: the wheel's declared requirements (not the rest of pyproject.toml).
requirements="$("$PYTHON" -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); print("".join(l for n in z.namelist() if n.endswith(".dist-info/METADATA") for l in z.read(n).decode().splitlines(True) if l.startswith("Requires-")))' "$wheel")"

report=()
status=0
for minor in "${minors[@]}"; do
  constraints="$ROOT/constraints/airflow-$minor.txt"
  venv="$MATRIX_HOME/airflow-$minor"
  version="$(sed -n 's/^apache-airflow==//p' "$constraints")"
  started=$SECONDS
  stamp="$( (echo "$requirements"; cat "$constraints") | sha256sum | cut -d' ' -f1)"
  if [ "$(cat "$venv/.matrix-stamp" 2>/dev/null)" != "$stamp" ]; then
    echo "== Airflow $version: building $venv"
    rm -rf "$venv"
    "$PYTHON" -m venv "$venv"
    "$venv/bin/pip" install --quiet -c "$constraints" "$wheel[dev,embedded]"
    echo "$stamp" > "$venv/.matrix-stamp"
  fi
  "$venv/bin/pip" install --quiet --no-deps --force-reinstall "$wheel"
  installed="$(( SECONDS - started ))"
  echo "== Airflow $version: the end-to-end subset"
  # Airflow's processes import the installed wheel; -p no:cacheprovider keeps these runs out of the
  # newest version's .pytest_cache.
  if AIRFLOW__CORE__LOAD_EXAMPLES=False "$venv/bin/python" -m pytest -p no:cacheprovider -q -rs \
      ${MATRIX_PYTEST_ARGS:-} "${subset[@]}"; then
    result=passed
  else
    result=FAILED
    status=1
  fi
  report+=("$(printf '%-8s %-7s venv+wheel %4ss  total %4ss' "$version" "$result" "$installed" "$(( SECONDS - started ))")")
done

echo "== Airflow version matrix"
printf '%s\n' "${report[@]}"
exit "$status"
