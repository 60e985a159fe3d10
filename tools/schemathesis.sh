#!/usr/bin/env bash
# The tenant API's contract test: schemathesis (pinned, its own virtualenv) against the local
# stack's /v1/openapi.json with the demo tenant's key. Every operation is checked for no
# server errors and for status code, content type, headers and response schema conformance,
# and for refusing what the schema forbids (positive-data acceptance is left out: the schema
# cannot say that ends_at comes after starts_at). The stack's JSON log lines join the run's
# secret scan. tools/test calls it with the virtualenv as its argument.
set -euo pipefail
cd "$(dirname "$0")/.."

st_env=$1              # the schemathesis virtualenv
# The CLI binary the test run just built (building it here alone would unify features
# differently and rebuild half the dependency tree).
bin="${CARGO_TARGET_DIR:-target}/debug/guildbridge"
if [ ! -x "$bin" ]; then
  echo "$bin is missing: tools/test builds it with the tests before this runs" >&2
  exit 1
fi

free_port() { "$st_env/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
sandbox_port=$(free_port)
data=$(mktemp -d)
out="$data/local.out"
# The tenant budgets are lifted: the fuzzer sends thousands of requests a minute on purpose
# (the limits have their own tests; 429 is in the document all the same).
env -u DISCORD_BOT_TOKEN -u DISCORD_PUBLIC_KEY -u SETTINGS_URL \
  TENANT_REQUESTS_PER_MINUTE=1000000 TENANT_OUTBOUND_REQUESTS_PER_MINUTE=1000000 \
  "$bin" --data-dir "$data" local --addr "127.0.0.1:$port" --sandbox-addr "127.0.0.1:$sandbox_port" >"$out" 2>&1 &
local_pid=$!
stop_local() {
  kill -INT "$local_pid" 2>/dev/null || true
  wait "$local_pid" 2>/dev/null || true
  if [ -n "${GUILDBRIDGE_E2E_LOG_DIR:-}" ]; then
    grep '^{' "$out" | sed 's/^/guildbridge-local\t/' >"$GUILDBRIDGE_E2E_LOG_DIR/schemathesis-local.log" || true
  fi
  rm -rf "$data"
}
trap stop_local EXIT

key=""
for _ in $(seq 1 300); do
  key=$(grep -o "demo tenant's API key  gbk_[A-Za-z0-9_-]*" "$out" | sed 's/.* //' || true)
  [ -n "$key" ] && break
  if ! kill -0 "$local_pid" 2>/dev/null; then
    echo "guildbridge local did not start:" >&2
    cat "$out" >&2
    exit 1
  fi
  sleep 0.1
done
[ -n "$key" ] || { echo "no demo key in the banner" >&2; cat "$out" >&2; exit 1; }

# DELETE /v1/guild is left out: it disconnects the demo tenant, after which every other
# operation would only meet 409 (the tenant API tests cover it).
"$st_env/bin/schemathesis" run "http://127.0.0.1:$port/v1/openapi.json" \
  --header "Authorization: Bearer $key" \
  --exclude-path /v1/guild \
  --checks all --exclude-checks positive_data_acceptance,missing_required_header \
  --max-examples 50 --seed 2 --no-color --output-sanitize true
