#!/usr/bin/env bash
# Salesforce load benchmark, side by side (not a test): the same CSV (ROWS rows, default
# 1,000,000, of Zuora__CustomerAccount__c with a lookup to a seeded Account) upserted into the
# Salesforce simulator (its own process) through Bulk API 2.0 by
#
#   * zbridge's loader (SalesforceClient::bulk_upsert, through the example
#     crates/zbridge-salesforce/examples/bulk_upsert.rs), which always reads the result files;
#   * simple-salesforce 1.12.10 `bulk2.<Object>.upsert(csv_file=…)`, unmodified, with its
#     default poll wait (5 s) and with wait=1, and with wait=1 plus the result files downloaded
#     (what per-record outcomes need).
#
# The org is reset before each run, so every run creates the same records. API calls are the
# simulator's count of REST calls (`/sim/counters` apiUsed; SOAP login is not an API call).
#
#   bench/salesforce_load.sh              # 1M rows
#   ROWS=100000 bench/salesforce_load.sh  # a quick look
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
rows=${ROWS:-1000000}
object=Zuora__CustomerAccount__c
key=Zuora__External_Id__c

cargo build --release --quiet -p zbridge-sim --example salesforce_sim
cargo build --release --quiet -p zbridge-salesforce --example bulk_upsert
venv=$(simple_salesforce_venv)
work=$(mktemp -d)
sim_pid=
trap '[ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null; rm -rf "$work"' EXIT

"$target_dir/release/examples/salesforce_sim" --seed 1 --accounts 1000 >"$work/sim.json" 2>"$work/sim.log" &
sim_pid=$!
wait_for_line "$work/sim.json" "$sim_pid" || { cat "$work/sim.log" >&2; exit 1; }
login=$(json_field "$work/sim.json" orgs 0 login_url)
sim_admin() {
  python3 - "$work/sim.json" "$1" <<'PY'
import json, sys
org = json.loads(open(sys.argv[1]).readline())["orgs"][0]
admin = next(u for u in org["users"] if u["username"].startswith("admin@"))
print(admin[sys.argv[2]])
PY
}
username=$(sim_admin username)

# The CSV: external id, name, a lookup to one of the org's seeded Accounts, balance, status,
# currency (~110 bytes a row).
curl -sSf "$login/sim/records/Account" | python3 -c "
import json, sys, csv
ids = [r['Id'] for r in json.load(sys.stdin)]
w = csv.writer(open(sys.argv[1], 'w', newline=''), lineterminator='\n')
w.writerow(['$key', 'Name', 'Zuora__Account__c', 'Zuora__Balance__c', 'Zuora__Status__c', 'Zuora__Currency__c'])
for i in range(int(sys.argv[2])):
    w.writerow([f'2c92c0f8{i:024x}', f'Customer {i}, \"bench\"', ids[i % len(ids)], f'{i % 10000}.{i % 100:02}', 'Active', 'USD'])
" "$work/rows.csv" "$rows"
csv_mb=$(python3 -c "import os, sys; print(f'{os.path.getsize(sys.argv[1]) / 1e6:.0f}')" "$work/rows.csv")

rows_file="$work/rows.md"
: >"$rows_file"
# measure TOOL COMMAND...: resets the org, runs the loader (JSON line on stdout), adds a row.
measure() {
  local tool=$1
  shift
  curl -sSf -X POST "$login/sim/reset" >/dev/null
  /usr/bin/time -f '%e %M' -o "$work/time" "$@" >"$work/out.json" 2>"$work/err.log" \
    || { tail "$work/err.log" >&2; exit 1; }
  read -r _ rss <"$work/time"
  curl -sSf "$login/sim/counters" >"$work/counters.json"
  python3 - "$work/out.json" "$work/counters.json" "$tool" "$rss" "$(load1)" <<'PY' | tee -a "$rows_file" >&2
import json, sys
out = json.loads(open(sys.argv[1]).readline())
counters = json.load(open(sys.argv[2]))
tool, rss_kb, load = sys.argv[3], float(sys.argv[4]), sys.argv[5]
calls = counters["apiUsed"]
jobs = sum(n for route, n in counters["endpoints"].items()
           if route.startswith("POST ") and route.rstrip("/").endswith("/jobs/ingest"))
failed = out.get("failed", 0)
print(f"| {tool} | {out['rows']:,} | {failed:,} | {out['seconds']:.1f} | {out['rows'] / out['seconds']:,.0f} "
      f"| {calls} | {jobs} | {rss_kb / 1024:.0f} | {load} |")
PY
}

export SF_PASSWORD SF_TOKEN
SF_PASSWORD=$(sim_admin password)
SF_TOKEN=$(sim_admin security_token)
measure "zbridge (results read)" "$target_dir/release/examples/bulk_upsert" --login-url "$login" \
  --username "$username" --object "$object" --external-id "$key" --csv "$work/rows.csv"
for wait in 5 1; do
  measure "simple-salesforce, wait=$wait" "$venv/bin/python" peers/simple-salesforce/bulk_upsert.py \
    "$work/sim.json" "$work/rows.csv" "$object" "$key" --wait "$wait"
done
measure "simple-salesforce, wait=1, results read" "$venv/bin/python" peers/simple-salesforce/bulk_upsert.py \
  "$work/sim.json" "$work/rows.csv" "$object" "$key" --wait 1 --results

{
  echo
  echo "## Salesforce Bulk 2.0 load side by side ($(date -u +%Y-%m-%d), $(machine))"
  echo
  echo "\`bench/salesforce_load.sh\` with ROWS=$rows: one ${csv_mb} MB CSV of $object upserted by"
  echo "\`$key\` into the Salesforce simulator (its own process; the org reset before each run)."
  echo "API calls are the simulator's REST count; Load is the 1-minute load average after the run."
  echo
  echo "| Loader | Rows | Failed | Seconds | Rows/s | API calls | Bulk jobs | Peak RSS (MB) | Load |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  cat "$rows_file"
} >"$work/table.md"
cat "$work/table.md"
cat "$work/table.md" >>BENCHMARKS.md
