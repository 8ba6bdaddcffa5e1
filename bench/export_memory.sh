#!/usr/bin/env bash
# Memory flatness of the export (not a test): zbridge's peak RSS exporting the same table at
# 100k, 1M and 5M rows (ROWS), through AQuA and through Data Query, to CSV piped to `wc -l`.
#
# The table is the simulator's WideRecord, whose rows are computed rather than stored (5M rows
# cost the simulator ~120 MB), read with COLUMNS (18 of its 100 columns by default: the width of
# a typical table); a fresh simulator process per size. Data Query's 500,000-row output cap makes
# zbridge split the bigger exports into Id ranges, AQuA returns 500,000-row file segments.
#
#   bench/export_memory.sh
#   ROWS="100000 1000000" bench/export_memory.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
sizes=${ROWS:-100000 1000000 5000000}
custom=$(printf ',Custom%02d__c' $(seq 1 10))
columns=${COLUMNS:-Id,AccountId,Name,RecordNumber,Status,Currency${custom},CreatedDate,UpdatedDate}

cargo build --release --quiet -p zbridge
cargo build --release --quiet -p zbridge-sim --example zuora_sim
bin="$target_dir/release/zbridge"
work=$(mktemp -d)
export ZBRIDGE_HOME="$work/home"
sim_pid=
trap '[ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null; rm -rf "$work"' EXIT

rows_file="$work/rows.md"
: >"$rows_file"
for size in $sizes; do
  "$target_dir/release/examples/zuora_sim" --seed 1 --accounts 1000 --wide-rows "$size" \
    >"$work/sim.json" 2>"$work/sim.log" &
  sim_pid=$!
  wait_for_line "$work/sim.json" "$sim_pid" || { cat "$work/sim.log" >&2; exit 1; }
  rm -rf "$ZBRIDGE_HOME"
  ZBRIDGE_BENCH_SECRET=$(json_field "$work/sim.json" clientSecret) "$bin" connection create Bench \
    --client-id "$(json_field "$work/sim.json" clientId)" --client-secret-from env:ZBRIDGE_BENCH_SECRET \
    --set "URL=$(json_field "$work/sim.json" baseUrl)" --set PollInterval=1 >/dev/null
  for service in aqua dataquery; do
    ZBRIDGE_LOG=warn,zbridge_zuora::query=debug /usr/bin/time -f '%e %M' -o "$work/time" \
      "$bin" query Bench --service "$service" --table WideRecord --columns "$columns" \
      2>"$work/zbridge.log" | wc -l >"$work/lines"
    read -r seconds rss <"$work/time"
    rows=$(($(cat "$work/lines") - 1))
    jobs=$(grep -c 'job completed' "$work/zbridge.log" || true)
    sim_rss=$(ps -o rss= -p "$sim_pid" | tr -d ' ')
    echo "| $size | $service | $rows | $seconds | $(rate "$rows" "$seconds") | $jobs | $(mb "$rss") | $(mb "$sim_rss") | $(load1) |" \
      | tee -a "$rows_file" >&2
  done
  kill "$sim_pid"
  wait "$sim_pid" 2>/dev/null || true
  sim_pid=
done

{
  echo
  echo "## Export memory flatness ($(date -u +%Y-%m-%d), $(machine))"
  echo
  echo "\`bench/export_memory.sh\` with ROWS=\"$sizes\": WideRecord, $(echo "$columns" | tr ',' '\n' | wc -l) columns, to CSV"
  echo "piped to \`wc -l\`; a fresh simulator process per size. Seconds are end to end (jobs"
  echo "included). Load is the 1-minute load average after the run."
  echo
  echo "| Rows | Service | Rows out | Seconds | Rows/s | Jobs | zbridge peak RSS (MB) | Simulator RSS (MB) | Load |"
  echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|"
  cat "$rows_file"
} >"$work/table.md"
cat "$work/table.md"
cat "$work/table.md" >>BENCHMARKS.md
