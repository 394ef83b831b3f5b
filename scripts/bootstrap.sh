#!/usr/bin/env bash
# Create or refresh the project venv (.venv) with the pinned package set.
# Sourced by scripts/test.sh and scripts/demo.sh; re-installs only when pyproject.toml or
# constraints.txt changed since the last successful install, so repeat runs start in a second.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PYTHON="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
stamp="$(cat "$ROOT/pyproject.toml" "$ROOT/constraints.txt" | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$VENV/.bootstrap-stamp" 2>/dev/null)" != "$stamp" ]; then
  "$VENV/bin/pip" install --quiet --upgrade pip
  "$VENV/bin/pip" install --quiet -c "$ROOT/constraints.txt" -e "$ROOT[dev,embedded,cluster]"
  echo "$stamp" > "$VENV/.bootstrap-stamp"
fi
export PATH="$VENV/bin:$PATH"
