#!/usr/bin/env bash
# Query export benchmark (not a test): exports a ~100k-row table (Account) and a ~1M-row table
# (InvoiceItem) from the Zuora simulator through AQuA and through Data Query, to CSV on
# /dev/null, and reports rows/s and the peak RSS of the zbridge process. The simulator runs as
# its own process, so the figures are zbridge's alone. Results are appended to BENCHMARKS.md.
#
#   bench/query_export.sh            # ~115k accounts, so that InvoiceItem reaches ~1M rows
#   ACCOUNTS=20000 bench/query_export.sh   # a quicker, smaller run
set -euo pipefail
cd "$(dirname "$0")/.."
accounts=${ACCOUNTS:-115000}

cargo build --release --quiet -p zbridge
bin="${CARGO_TARGET_DIR:-target}/release/zbridge"
work=$(mktemp -d)
export ZBRIDGE_HOME="$work/home"
trap 'kill "$sim_pid" 2>/dev/null || true; rm -rf "$work"' EXIT

"$bin" sim --only zuora --json --seed 1 --accounts "$accounts" >"$work/sim.json" 2>"$work/sim.log" &
sim_pid=$!
for _ in $(seq 1 600); do [ -s "$work/sim.json" ] && break; sleep 0.5; done
field() { python3 -c "import json,sys; print(json.load(open('$work/sim.json'))['zuora']['$1'])"; }
base=$(field baseUrl)
ZBRIDGE_BENCH_SECRET=$(field clientSecret) "$bin" connection create Bench --client-id "$(field clientId)" \
  --client-secret-from env:ZBRIDGE_BENCH_SECRET --set "URL=$base" --set PollInterval=1 2>/dev/null
export ZBRIDGE_BENCH_SECRET=

rows_of() { wc -l <"$1" | awk '{print $1 - 1}'; }

# run SERVICE TABLE: prints "rows seconds rss_kb jobs"
run() {
  local service=$1 table=$2 out="$work/out.csv"
  /usr/bin/time -f '%e %M' -o "$work/time" "$bin" query Bench --service "$service" --table "$table" \
    --output "$out" 2>"$work/query.log"
  read -r seconds rss <"$work/time"
  local jobs
  jobs=$(grep -o '([0-9]* jobs' "$work/query.log" | tr -dc '0-9')
  echo "$(rows_of "$out") $seconds $rss ${jobs:-?}"
  rm -f "$out"
}

machine="$(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr)"
{
  echo
  echo "## Query export ($(date -u +%Y-%m-%d), $machine)"
  echo
  echo "\`bench/query_export.sh\` with ACCOUNTS=$accounts. CSV to a file; the simulator is another process."
  echo
  echo "| Service | Table | Rows | Seconds | Rows/s | Peak RSS (MB) | Jobs |"
  echo "|---|---|---:|---:|---:|---:|---:|"
} >"$work/table.md"
for service in aqua dataquery; do
  for table in Account InvoiceItem; do
    read -r rows seconds rss jobs < <(run "$service" "$table")
    rate=$(python3 -c "print(f'{$rows / max($seconds, 0.001):,.0f}')")
    mb=$(python3 -c "print(f'{$rss / 1024:.1f}')")
    echo "| $service | $table | $rows | $seconds | $rate | $mb | $jobs |" >>"$work/table.md"
  done
done
cat "$work/table.md"
cat "$work/table.md" >>BENCHMARKS.md
