#!/usr/bin/env bash
# Create or refresh the FiftyOne interpreter (.venv-fiftyone) that runs FiftyOne's own operators.
# fiftyone 1.22.1 pins pymongo~=4.9 and starlette<1.4, which conflict with Airflow 3.3's set, so it
# gets a venv of its own (like Airflow's ExternalPythonOperator). fiftyone-db only satisfies
# fiftyone's dependency: its mongod is never started (FiftyOps points FiftyOne at its own mongod
# with FIFTYONE_DATABASE_URI / FIFTYONE_DATABASE_NAME). Re-installs only when this script changed
# since the last successful install. Prints the interpreter's path.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${FIFTYONE_VENV:-$ROOT/.venv-fiftyone}"
PYTHON="${PYTHON:-python3}"
PACKAGES=(fiftyone-db==0.4.5 fiftyone==1.22.1)
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV" >&2
fi
stamp="$(cat "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$VENV/.bootstrap-stamp" 2>/dev/null)" != "$stamp" ]; then
  # (pip warns about every index directory the local mirrors lack: noise, filtered out)
  "$VENV/bin/pip" install --quiet "${PACKAGES[@]}" 2>&1 | grep -v "^WARNING: Location" >&2 || true
  "$VENV/bin/python" -c "import fiftyone.operators" >&2
  echo "$stamp" > "$VENV/.bootstrap-stamp"
fi
echo "$VENV/bin/python"
