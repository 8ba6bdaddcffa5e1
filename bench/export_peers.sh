#!/usr/bin/env bash
# Query export benchmark, side by side (not a test). Against one Zuora simulator process:
#
#   * InvoiceItem, ~1M rows of 20 columns (ACCOUNTS=115000 gives 1,040,026 rows), and
#   * WideRecord, 100 columns (WIDE_ROWS rows, default 200,000),
#
# each exported to CSV through AQuA and through Data Query by zbridge (`zbridge query … | wc -l`);
# through AQuA by tap-zuora 1.6.1 from PyPI (its Singer output piped to a counting sink; it has
# no Data Query mode); and by curl downloading the very result files of zbridge's jobs, found
# through the documented job status (AQuA `fileId`/`segments`, Data Query `dataFile`), piped to
# the same sink: the transfer limit. Reports rows/s, the ratios, and peak RSS (/usr/bin/time).
#
# zbridge's seconds are end to end (submit, the simulator running the job, polling, download,
# parse, write); "file phase" subtracts the time it waited for its jobs, which is what curl's
# download compares with. The 1-minute load average is noted on every row.
#
#   bench/export_peers.sh                               # full size, ~10 minutes
#   ACCOUNTS=5000 WIDE_ROWS=20000 bench/export_peers.sh # a quick look
#   PEERS=curl bench/export_peers.sh                    # skip tap-zuora
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh
accounts=${ACCOUNTS:-115000}
wide_rows=${WIDE_ROWS:-200000}
peers=${PEERS:-tap-zuora curl}
tables=${TABLES:-InvoiceItem WideRecord}

cargo build --release --quiet -p zbridge
cargo build --release --quiet -p zbridge-sim --example zuora_sim
bin="$target_dir/release/zbridge"
sim_bin="$target_dir/release/examples/zuora_sim"
case " $peers " in *" tap-zuora "*) venv=$(tap_zuora_venv) ;; esac
work=$(mktemp -d)
export ZBRIDGE_HOME="$work/home"
sim_pid=
trap '[ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null; rm -rf "$work"' EXIT

# No line breaks in text: tap-zuora reads result files line by line (ZUORA.md).
"$sim_bin" --seed 1 --accounts "$accounts" --wide-rows "$wide_rows" --no-multiline-text \
  >"$work/sim.json" 2>"$work/sim.log" &
sim_pid=$!
wait_for_line "$work/sim.json" "$sim_pid" || { cat "$work/sim.log" >&2; exit 1; }
base=$(json_field "$work/sim.json" baseUrl)
client_id=$(json_field "$work/sim.json" clientId)
export ZUORA_SECRET
ZUORA_SECRET=$(json_field "$work/sim.json" clientSecret)
ZBRIDGE_BENCH_SECRET=$ZUORA_SECRET "$bin" connection create Bench --client-id "$client_id" \
  --client-secret-from env:ZBRIDGE_BENCH_SECRET --set "URL=$base" --set PollInterval=1 >/dev/null

if [ -n "${venv:-}" ]; then
  cat >"$work/tap.json" <<JSON
{"start_date": "2020-01-01T00:00:00Z", "api_type": "AQUA", "auth_type": "OAUTH",
 "username": "$client_id", "password": "$ZUORA_SECRET",
 "partner_id": "zbridge", "sandbox": "false", "european": "false"}
JSON
  echo "tap-zuora discovery (not timed)…" >&2
  ZUORA_SIM_BASE_URL=$base "$venv/bin/python" peers/tap-zuora/wrapper.py --config "$work/tap.json" \
    --discover >"$work/catalog.json" 2>"$work/discover.log" || { tail "$work/discover.log" >&2; exit 1; }
fi

rows_file="$work/rows.md"
: >"$rows_file"
# row TABLE COLS SERVICE TOOL ROWS SECONDS RSS_KB NOTE
row() {
  local rss=${7:--}
  [ "$rss" != - ] && rss=$(mb "$rss")
  echo "| $1 | $2 | $3 | $4 | $5 | $6 | $(rate "$5" "$6") | $rss | $8 |" | tee -a "$rows_file" >&2
}

# zbridge TABLE SERVICE: exports, then prints "rows seconds rss_kb job_seconds"; leaves the
# job files' list in $work/files.txt for curl.
zbridge_run() {
  ZBRIDGE_LOG=warn,zbridge_zuora::query=debug /usr/bin/time -f '%e %M' -o "$work/time" \
    "$bin" query Bench --service "$2" --table "$1" 2>"$work/zbridge.log" | wc -l >"$work/lines"
  read -r seconds rss <"$work/time"
  python3 bench/zuora_job_files.py "$base" "$client_id" "$work/zbridge.log" >"$work/files.txt"
  echo "$(($(cat "$work/lines") - 1)) $seconds $rss $(awk '/^# job_seconds/{print $3}' "$work/files.txt")"
}

# curl_run MODE: downloads every file in $work/files.txt. MODE "transfer" only downloads to
# /dev/null (the transfer limit; prints bytes); "rows" also decompresses (the files are gzip: zbridge asks for it) and
# counts lines, the least any reader must do. Prints "rows_or_bytes seconds max_rss_kb".
curl_run() {
  local total=0 count=0 rss=0 url auth seconds kb n files=0
  while read -r url auth; do
    [ "${url:0:1}" = "#" ] && continue
    local header=()
    [ "$auth" != - ] && header=(-H "Authorization: Bearer $auth")
    if [ "$1" = transfer ]; then
      # curl's own clock: /usr/bin/time counts in hundredths, and a file takes about that.
      /usr/bin/time -f '%e %M' -o "$work/time" curl -sSf "${header[@]}" -o /dev/null \
        -w '%{time_total} %{size_download}\n' "$url" >"$work/curl"
      read -r curl_seconds bytes <"$work/curl"
      echo "$bytes" >"$work/count"
      sed -i "s/^[^ ]*/$curl_seconds/" "$work/time"
    else
      /usr/bin/time -f '%e %M' -o "$work/time" \
        bash -c 'curl -sSf "$@" | gzip -dcf | wc -l' curl "${header[@]}" "$url" >"$work/count"
    fi
    read -r seconds kb <"$work/time"
    n=$(cat "$work/count")
    count=$((count + n))
    files=$((files + 1))
    total=$(python3 -c "print(round($total + $seconds, 4))")
    [ "$kb" -gt "$rss" ] && rss=$kb
  done <"$work/files.txt"
  echo "$count $total $rss $files"
}

# tap_run TABLE: one tap-zuora sync of the table's stream (all fields); prints "rows seconds rss_kb".
tap_run() {
  "$venv/bin/python" peers/tap-zuora/select_streams.py "$work/catalog.json" "$1" >"$work/selected.json"
  ZUORA_SIM_BASE_URL=$base /usr/bin/time -f '%e %M' -o "$work/time" \
    "$venv/bin/python" peers/tap-zuora/wrapper.py --config "$work/tap.json" --catalog "$work/selected.json" \
    2>"$work/tap.log" | grep -c '"type": "RECORD"' >"$work/lines" || { tail "$work/tap.log" >&2; return 1; }
  read -r seconds rss <"$work/time"
  echo "$(cat "$work/lines") $seconds $rss"
}

ratios="$work/ratios.md"
: >"$ratios"
for table in $tables; do
  cols=$(python3 -c "import sys; print(len(open(sys.argv[1]).readline().split(',')))" \
    <(ZBRIDGE_LOG=warn "$bin" query Bench --service dataquery --table "$table" --limit 1 2>/dev/null))
  tap_rate=
  if [ -n "${venv:-}" ]; then
    read -r rows seconds rss < <(tap_run "$table")
    row "$table" "$cols" aqua "tap-zuora 1.6.1" "$rows" "$seconds" "$rss" "load $(load1)"
    tap_rate=$(python3 -c "print($rows / $seconds)")
  fi
  for service in aqua dataquery; do
    read -r rows seconds rss job_seconds < <(zbridge_run "$table" "$service")
    jobs=$(grep -c 'job completed' "$work/zbridge.log" || true)
    file_phase=$(python3 -c "print(round($seconds - $job_seconds, 2))")
    row "$table" "$cols" "$service" zbridge "$rows" "$seconds" "$rss" "load $(load1); $jobs jobs, waited ${job_seconds}s for them"
    row "$table" "$cols" "$service" "zbridge, file phase" "$rows" "$file_phase" - "end to end minus the job wait"
    z_rate=$(python3 -c "print($rows / $seconds)")
    z_file_rate=$(python3 -c "print($rows / max($file_phase, 0.001))")
    line="| $table | $service | $(ratio "$z_rate" "$tap_rate")"
    if [[ " $peers " == *" curl "* ]]; then
      read -r bytes t_seconds t_rss files < <(curl_run transfer)
      row "$table" "$cols" "$service" "curl, download only" "$rows" "$t_seconds" "$t_rss" \
        "load $(load1); $files files, $(python3 -c "print(f'{$bytes / 1e6:.0f}')") MB gzip"
      read -r lines c_seconds c_rss _ < <(curl_run rows)
      # AQuA CSV files have a header line each; Data Query JSON Lines files do not.
      [ "$service" = aqua ] && lines=$((lines - files))
      row "$table" "$cols" "$service" "curl \\| gzip -d" "$lines" "$c_seconds" "$c_rss" "load $(load1)"
      t_rate=$(python3 -c "print($rows / max($t_seconds, 0.001))")
      c_rate=$(python3 -c "print($lines / max($c_seconds, 0.001))")
      line="$line | $(ratio "$z_rate" "$t_rate") | $(ratio "$z_file_rate" "$t_rate") | $(ratio "$z_file_rate" "$c_rate") |"
    else
      line="$line | n/a | n/a | n/a |"
    fi
    echo "$line" >>"$ratios"
  done
done

{
  echo
  echo "## Query export side by side ($(date -u +%Y-%m-%d), $(machine))"
  echo
  echo "\`bench/export_peers.sh\` with ACCOUNTS=$accounts, WIDE_ROWS=$wide_rows. One Zuora simulator"
  echo "process; every tool writes to the same counting sink (\`| wc -l\`, tap-zuora \`| grep -c RECORD\`)."
  echo "Seconds are wall time; Load is the 1-minute load average when the row finished."
  echo
  echo "| Table | Columns | Service | Tool | Rows | Seconds | Rows/s | Peak RSS (MB) | Notes |"
  echo "|---|---:|---|---|---:|---:|---:|---:|---|"
  cat "$rows_file"
  echo
  echo "| Table | Service | zbridge ÷ tap-zuora (AQuA) | zbridge end to end ÷ curl download | zbridge file phase ÷ curl download | zbridge file phase ÷ curl \| gzip -d |"
  echo "|---|---|---:|---:|---:|---:|"
  cat "$ratios"
} >"$work/table.md"
cat "$work/table.md"
cat "$work/table.md" >>BENCHMARKS.md
