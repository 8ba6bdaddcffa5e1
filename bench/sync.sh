#!/usr/bin/env bash
# Full sync benchmark (not a test): the sync bench (crates/zbridge-sync/benches/sync_bench.rs)
# at ACCOUNTS accounts with all their related records (default 100,000), then a 1 % incremental,
# with the Zuora and Salesforce simulators in their own processes, so the peak RSS is the
# engine's. Reports records/s, Salesforce API calls and Bulk jobs per 1M records, and peak RSS.
#
#   bench/sync.sh                          # 100,000 accounts
#   ACCOUNTS="10000 100000" bench/sync.sh  # several sizes, one table (memory flatness)
#   OPTIONS='{"bulk_batch_size": 100000}' bench/sync.sh   # sync profile options
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
sizes=${ACCOUNTS:-100000}
seed=3

cargo build --release --quiet -p zbridge-sim --example zuora_sim --example salesforce_sim
cargo bench -p zbridge-sync --bench sync_bench --no-run --quiet 2>/dev/null
work=$(mktemp -d)
pids=()
stop_sims() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
trap 'stop_sims; rm -rf "$work"' EXIT

rows_file="$work/rows.md"
verify_file="$work/verify.md"
: >"$rows_file"
: >"$verify_file"
for accounts in $sizes; do
  "$target_dir/release/examples/salesforce_sim" --seed "$seed" --accounts "$accounts" \
    >"$work/sf.json" 2>"$work/sf.log" &
  pids+=($!)
  wait_for_line "$work/sf.json" "${pids[-1]}" || { cat "$work/sf.log" >&2; exit 1; }
  "$target_dir/release/examples/zuora_sim" --seed "$seed" --accounts "$accounts" --job-delay-ms 1 \
    --salesforce-accounts "$accounts" >"$work/zuora.json" 2>"$work/zuora.log" &
  pids+=($!)
  wait_for_line "$work/zuora.json" "${pids[-1]}" || { cat "$work/zuora.log" >&2; exit 1; }
  # The Salesforce org's daily API allocation must not be what stops a big run.
  curl -sSf -X PUT -H 'Content-Type: application/json' -d '{"apiDailyMax": 100000000}' \
    "$(json_field "$work/sf.json" orgs 0 login_url)/sim/settings" >/dev/null

  echo "sync of $accounts accounts (simulators in their own processes)…" >&2
  ZBRIDGE_BENCH_ACCOUNTS=$accounts ZBRIDGE_BENCH_ZUORA="$work/zuora.json" ZBRIDGE_BENCH_SALESFORCE="$work/sf.json" \
    ZBRIDGE_BENCH_OPTIONS=${OPTIONS:-\{\}} cargo bench -p zbridge-sync --bench sync_bench --quiet 2>"$work/bench.err" | tee "$work/bench.out" >&2 \
    || { tail "$work/bench.err" >&2; exit 1; }
  sim_rss=$(ps -o rss= -p "${pids[0]}" -p "${pids[1]}" | awk '{s += $1} END {print s}')
  grep '^BENCH_JSON ' "$work/bench.out" | cut -d' ' -f2- >"$work/result.json"
  python3 - "$work/result.json" "$(load1)" "$sim_rss" <<'PY' | tee -a "$rows_file" >&2
import json, sys
r = json.load(open(sys.argv[1]))
load, sim_rss_kb = sys.argv[2], float(sys.argv[3])
for label, run in (("full", r["full"]), ("1% incremental", r["incremental"])):
    written = max(run["written"], 1)
    per_million = 1e6 / written
    print(f"| {r['accounts']:,} | {label} | {run['status']} | {run['read']:,} | {run['written']:,} "
          f"| {run['seconds']:.1f} | {run['written'] / run['seconds']:,.0f} "
          f"| {run['apiCalls']:,} ({run['apiCalls'] * per_million:,.0f}) "
          f"| {run['bulkJobs']:,} ({run['bulkJobs'] * per_million:,.0f}) "
          f"| {run['peakRssMib']:.0f} | {sim_rss_kb / 1024:,.0f} | {load} |")
PY
  python3 - "$work/result.json" "$(load1)" <<'PY' | tee -a "$verify_file" >&2
import json, sys
r = json.load(open(sys.argv[1]))
v = r["verify"]
print(f"| {r['accounts']:,} | {v['records']:,} | {v['inScope']:,} | {'yes' if v['drifted'] else 'no'} "
      f"| {v['seconds']:.1f} | {v['records'] / v['seconds']:,.0f} | {v['apiCalls']:,} | {v['peakRssMib']:.0f} | {sys.argv[2]} |")
PY
  stop_sims
done

{
  echo
  echo "## Full sync ($(date -u +%Y-%m-%d), $(machine))"
  echo
  echo "\`bench/sync.sh\` with ACCOUNTS=\"$sizes\"${OPTIONS:+ and OPTIONS='$OPTIONS'}: \`sync_bench\` against the Zuora and Salesforce"
  echo "simulators in their own processes; a full sync, then 1 % of Account, Subscription,"
  echo "RatePlanCharge, Invoice and Payment rows updated (and some cancelled) and an incremental sync."
  echo "Records = upserted + deleted. The peak RSS is the engine process's (store included); the"
  echo "simulators' RSS is shown apart. Load is the 1-minute load average after the run."
  echo
  echo "| Accounts | Run | Status | Rows read | Records | Seconds | Records/s | API calls (per 1M records) | Bulk jobs (per 1M records) | Peak RSS (MB) | Simulators' RSS (MB) | Load |"
  echo "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  cat "$rows_file"
  echo
  echo "\`zbridge sync verify\` right after the full sync (every object read from both sides; the"
  echo "peak RSS is the verify's own, measured from a reset of the process's peak):"
  echo
  echo "| Accounts | Org records | In scope | Drifted | Seconds | Records/s | API calls | Peak RSS (MB) | Load |"
  echo "|---:|---:|---:|---|---:|---:|---:|---:|---:|"
  cat "$verify_file"
} >"$work/table.md"
cat "$work/table.md"
cat "$work/table.md" >>BENCHMARKS.md
