#!/usr/bin/env bash
# The compose validation test needs Debian's docker-compose (a schema check; no engine needed).
set -euo pipefail
if ! command -v docker-compose >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null
  else
    echo "docker-compose is missing: install it (apt-get install docker-compose) for tests/deploy" >&2
  fi
fi
