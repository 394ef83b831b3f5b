#!/usr/bin/env bash
# The distributed stack on this machine (docs/deploy.md, "The cluster stack"): installs what it
# needs (venv with the Celery provider, Debian's postgresql and redis-server), then runs
# `fiftyops cluster up`: PostgreSQL, Redis, a 3-member MongoDB replica set, the api-server,
# scheduler, dag-processor, two triggerers and two Celery workers, on free loopback ports.
# Ctrl-C stops every process it started, by PID. Extra arguments go to `fiftyops cluster up`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/bootstrap.sh"
bash "$ROOT/scripts/ensure_system_packages.sh"
cd "$ROOT"
exec fiftyops cluster up "$@"
