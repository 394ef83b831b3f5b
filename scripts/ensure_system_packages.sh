#!/usr/bin/env bash
# Debian packages some tests need beyond the venv, installed with apt when missing and we are root
# (as in CI); otherwise this says how, and the tests that need them fail with the same advice.
#   docker-compose            tests/deploy validates docker-compose.airflow.yml (`docker-compose config`)
#   chromium, chromium-driver tests/ui drives the FiftyOps pages in headless Chromium (Playwright)
#   postgresql, redis-server  tests/cluster and scripts/cluster.sh: Airflow's metadata database and
#                             Celery broker (private servers on free ports; the packages' own
#                             services are not used)
set -euo pipefail
missing=()
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v chromium >/dev/null 2>&1 || missing+=(chromium chromium-driver)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${missing[*]} (apt) for the test suite" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "missing: ${missing[*]}: run 'sudo apt-get update && sudo apt-get install -y ${missing[*]}'" \
       "(tests/deploy, tests/ui and tests/cluster fail without them)" >&2
fi
