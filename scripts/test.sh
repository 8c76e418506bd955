#!/usr/bin/env bash
# Installs everything the tests need on a fresh machine, then runs ruff, the whole test suite, and the checks of
# the built package installed outside the checkout (scripts/check_installed.sh).
# System packages: Debian `prometheus` (server + promtool), `chromium` (browser test),
# `redis-server` (the Redis cache variant is tested against a real server) and `logrotate` (the collector is tested
# under the real logrotate's rotations).
# Python: a project venv in .venv; torch's CPU build first so nothing pulls the CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v logrotate >/dev/null 2>&1 || [ -x /usr/sbin/logrotate ] || need+=(logrotate)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -q torch==2.13.0
.venv/bin/pip install -q -e '.[dev]'

export MEM0_TELEMETRY=False HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
.venv/bin/ruff check .
.venv/bin/python -m pytest "$@"
bash scripts/check_installed.sh
