#!/usr/bin/env bash
# tests/deploy validates docker-compose.airflow.yml with `docker-compose config` (a schema check;
# no container engine needed). Installs Debian's docker-compose (1.29) when it is missing and we
# are root; otherwise says how, and the test will fail with the same advice.
set -euo pipefail
if command -v docker-compose >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing docker-compose (apt) for tests/deploy" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null
  docker-compose version >&2
else
  echo "docker-compose is missing: run 'sudo apt-get update && sudo apt-get install -y docker-compose'" \
       "(tests/deploy/test_compose.py fails without it)" >&2
fi
