# Helpers shared by the bench/ scripts (sourced, not run). Every script measures its peers side
# by side in one run and appends a table to BENCHMARKS.md with this machine's description.

target_dir="${CARGO_TARGET_DIR:-target}"

# "2 cores (AMD EPYC …), 23 GiB, Linux 6.x": the machine, for every table's heading.
machine() {
  local cpu
  cpu=$(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
  echo "$(nproc) cores${cpu:+ ($cpu)}, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr)"
}

# The 1-minute load average now: other work on a shared machine skews every figure.
load1() {
  cut -d' ' -f1 /proc/loadavg
}

# rate ROWS SECONDS: rows per second with thousands separators.
rate() {
  python3 -c "import sys; r, s = float(sys.argv[1]), float(sys.argv[2]); print(f'{r / max(s, 0.001):,.0f}')" "$1" "$2"
}

# ratio A B: A / B with two decimals ("n/a" when B is zero or missing).
ratio() {
  python3 -c "import sys
try:
    a, b = float(sys.argv[1]), float(sys.argv[2]); print(f'{a / b:.2f}' if b else 'n/a')
except ValueError:
    print('n/a')" "$1" "$2"
}

# mb KILOBYTES: megabytes with one decimal.
mb() {
  python3 -c "import sys; print(f'{float(sys.argv[1]) / 1024:.1f}')" "$1"
}

# json_field FILE KEY...: a value from a one-line JSON file (nested keys allowed).
json_field() {
  python3 - "$@" <<'PY'
import json, sys
value = json.loads(open(sys.argv[1]).readline())
for key in sys.argv[2:]:
    value = value[int(key)] if isinstance(value, list) else value[key]
print(value)
PY
}

# wait_for_line FILE PID: waits until FILE has a line (a simulator printed its URLs).
wait_for_line() {
  for _ in $(seq 1 1200); do
    [ -s "$1" ] && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.25
  done
  return 1
}

# tap_zuora_venv: prints the venv holding tap-zuora 1.6.1, creating it on first use (as
# peers/tap-zuora/run.sh does).
tap_zuora_venv() {
  local venv="${TAP_ZUORA_VENV:-$target_dir/tap-zuora-venv}"
  if [ ! -x "$venv/bin/tap-zuora" ] || ! "$venv/bin/pip" show tap-zuora 2>/dev/null | grep -q '^Version: 1.6.1$'; then
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'tap-zuora==1.6.1' >&2
  fi
  echo "$venv"
}

# simple_salesforce_venv: prints the venv holding simple-salesforce (peers/simple-salesforce).
simple_salesforce_venv() {
  local venv="${SIMPLE_SALESFORCE_VENV:-$target_dir/peers/simple-salesforce-venv}"
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" >&2
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r peers/simple-salesforce/requirements.txt >&2
  echo "$venv"
}
