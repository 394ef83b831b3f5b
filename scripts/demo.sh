#!/usr/bin/env bash
# The main job: installs everything, then runs `fiftyops demo` on the embedded defaults
# (or on FIFTYOPS_DATABASE_URI when set).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/bootstrap.sh"
cd "$ROOT"
exec fiftyops demo "$@"
