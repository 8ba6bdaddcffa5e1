#!/usr/bin/env bash
# Third-party conformance check: the unmodified tap-zuora 1.6.1 from PyPI, in AQuA mode, runs
# discovery and a sync of several streams against the zbridge Zuora simulator; the record counts
# per stream must equal the simulator's live rows.
#
# Usage: peers/tap-zuora/run.sh            (from anywhere; needs python3 and cargo)
# Env:   TAP_ZUORA_VENV   venv location (default: target/tap-zuora-venv, reused between runs)
#        ZUORA_SIM_CMD    command that starts the simulator and prints one JSON line with
#                         baseUrl, clientId, clientSecret (default: the zbridge-sim example)
#        ZUORA_SIM_BASE_URL, ZUORA_SIM_CLIENT_ID, ZUORA_SIM_CLIENT_SECRET
#                         use a simulator that is already running instead (it must be started
#                         with multi-line notes off: tap-zuora reads CSV line by line)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${TAP_ZUORA_VENV:-$repo/target/tap-zuora-venv}"
work="$(mktemp -d)"
streams="Account,Contact,Subscription,Invoice,Payment,RatePlanCharge"
start=$(date +%s)

if [ ! -x "$venv/bin/tap-zuora" ] || ! "$venv/bin/pip" show tap-zuora 2>/dev/null | grep -q '^Version: 1.6.1$'; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'tap-zuora==1.6.1'
fi

cd "$repo"
cleanup() { rm -rf "$work"; }
if [ -n "${ZUORA_SIM_BASE_URL:-}" ] && [ -n "${ZUORA_SIM_CLIENT_ID:-}" ] && [ -n "${ZUORA_SIM_CLIENT_SECRET:-}" ]; then
  # A simulator is already running (the Rust test starts one in-process).
  client_id="$ZUORA_SIM_CLIENT_ID"; client_secret="$ZUORA_SIM_CLIENT_SECRET"
else
  if [ -z "${ZUORA_SIM_CMD:-}" ]; then
    cargo build --quiet -p zbridge-sim --example zuora_sim
    ZUORA_SIM_CMD="$repo/target/debug/examples/zuora_sim --seed 11 --accounts 150 --no-multiline-text"
  fi
  $ZUORA_SIM_CMD > "$work/sim.out" 2> "$work/sim.err" &
  sim_pid=$!
  cleanup() { kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; rm -rf "$work"; }
  for _ in $(seq 1 300); do
    [ -s "$work/sim.out" ] && break
    kill -0 "$sim_pid" 2>/dev/null || { cat "$work/sim.err" >&2; exit 1; }
    sleep 0.1
  done
  info="$(head -n1 "$work/sim.out")"
  field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$info" "$1"; }
  export ZUORA_SIM_BASE_URL="$(field baseUrl)"
  client_id="$(field clientId)"; client_secret="$(field clientSecret)"
fi
trap cleanup EXIT
cat > "$work/config.json" <<JSON
{"start_date": "2020-01-01T00:00:00Z", "api_type": "AQUA", "auth_type": "OAUTH",
 "username": "$client_id", "password": "$client_secret",
 "partner_id": "zbridge", "sandbox": "false", "european": "false"}
JSON

echo "tap-zuora 1.6.1 discovery against $ZUORA_SIM_BASE_URL" >&2
"$venv/bin/python" "$here/wrapper.py" --config "$work/config.json" --discover > "$work/catalog.json" 2> "$work/discover.log" \
  || { tail -30 "$work/discover.log" >&2; exit 1; }
"$venv/bin/python" "$here/select_streams.py" "$work/catalog.json" "$streams" > "$work/selected.json"
echo "sync of $streams" >&2
"$venv/bin/python" "$here/wrapper.py" --config "$work/config.json" --catalog "$work/selected.json" > "$work/out.jsonl" 2> "$work/sync.log" \
  || { tail -30 "$work/sync.log" >&2; exit 1; }
"$venv/bin/python" "$here/check.py" "$work/out.jsonl" "$ZUORA_SIM_BASE_URL/sim/info" "$streams"
echo "tap-zuora conformance passed in $(( $(date +%s) - start )) s" >&2
