#!/usr/bin/env bash
# Runs the unmodified simple-salesforce client (pinned in requirements.txt, from PyPI) against
# the Salesforce simulator: SOAP login with a security token, describe, upsert by external id,
# a paged SOQL query, a Bulk 2.0 upsert with its result files, Bulk 2.0 query jobs (query,
# query_all, download, paged by Sforce-Locator), queryAll over the recycle bin, updated/deleted,
# Collections retrieve, Composite, sObject Tree and SOAP logout.
#
# Usage: peers/simple-salesforce/run.sh     (needs python3 with venv, cargo, and PyPI access
# the first time; the venv is kept under target/ and reused).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
target="${CARGO_TARGET_DIR:-$root/target}"
venv="${SIMPLE_SALESFORCE_VENV:-$target/peers/simple-salesforce-venv}"

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"

(cd "$root" && cargo build --quiet -p zbridge-sim --example salesforce_sim)
out=$(mktemp)
"$target/debug/examples/salesforce_sim" --sandbox --accounts 2500 --seed 11 >"$out" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -f "$out"' EXIT
for _ in $(seq 1 200); do
  [ -s "$out" ] && break
  sleep 0.05
done
"$venv/bin/python" "$here/check.py" "$out"
