#!/usr/bin/env bash
# Install the real services the tests use, from Debian's packages:
#   redis-server  (multi-process tests: cache, locks, revocations)
#   chromium      (page tests through Playwright; its own browser download is not used)
#   wrk           (load generator for benchmarks and the load test)
# Idempotent: does nothing when everything is present. Needs root or sudo to install.
set -euo pipefail

missing=()
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || missing+=(redis-server)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)

if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages present: redis-server chromium wrk"
  exit 0
fi

echo "installing: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1; then
  SUDO="sudo"
else
  echo "error: need root or sudo to install ${missing[*]} (apt-get install ${missing[*]})" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
