#!/usr/bin/env bash
# The settings page in a real browser: Debian's Chromium driven by playwright-core (pinned in
# tests/browser/package-lock.json) against `guildbridge local`, with a screenshot of every
# page under target/screenshots/. tools/test calls it after the Rust tests, which build the
# CLI binary it starts. The stack's JSON log lines join the run's secret scan.
set -euo pipefail
cd "$(dirname "$0")/.."

bin="${CARGO_TARGET_DIR:-target}/debug/guildbridge"
if [ ! -x "$bin" ]; then
  echo "$bin is missing: tools/test builds it with the tests before this runs" >&2
  exit 1
fi
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "/usr/bin/chromium is missing: install Debian's chromium package" >&2
    exit 1
  fi
  echo "== installing Debian's chromium"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
echo "== $(/usr/bin/chromium --version 2>/dev/null | head -1)"
(cd tests/browser && npm ci --no-audit --no-fund --silent)

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
log=$(mktemp)
status=0
GUILDBRIDGE_BIN="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")" BROWSER_TEST_PORT=$(free_port) BROWSER_SANDBOX_PORT=$(free_port) BROWSER_LOCAL_LOG="$log" \
  npm --prefix tests/browser test || status=$?
if [ -n "${GUILDBRIDGE_E2E_LOG_DIR:-}" ]; then
  grep '^{' "$log" | sed 's/^/guildbridge-local\t/' >"$GUILDBRIDGE_E2E_LOG_DIR/browser-local.log" || true
fi
rm -f "$log"
exit "$status"
