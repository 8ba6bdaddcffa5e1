#!/usr/bin/env bash
# Feeds zbridge's Singer output to an unmodified Singer target from PyPI (MeltanoLabs'
# target-csv, built on the Singer SDK, which validates every RECORD against its SCHEMA).
#
#   zbridge query CONN --table Account --format singer | peers/singer-target/run.sh OUTPUT_DIR
#
# Prints the number of data rows the target wrote per stream. Needs python3 with venv and PyPI
# access the first time; the venv is kept under target/ (or $SINGER_TARGET_VENV) and reused.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:?usage: run.sh OUTPUT_DIR}
venv="${SINGER_TARGET_VENV:-${CARGO_TARGET_DIR:-$root/target}/peers/singer-target-venv}"

if [ ! -x "$venv/bin/target-csv" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
fi
mkdir -p "$out"
config=$(mktemp)
trap 'rm -f "$config"' EXIT
printf '{"output_path": "%s"}\n' "$out" >"$config"
"$venv/bin/target-csv" --config "$config" >/dev/null 2>"$out/target.log" || {
  cat "$out/target.log" >&2
  exit 1
}
for file in "$out"/*.csv; do
  # Count CSV rows, not lines: values may hold line breaks.
  rows=$("$venv/bin/python" -c 'import csv, sys; print(sum(1 for _ in csv.reader(open(sys.argv[1], newline=""))) - 1)' "$file")
  echo "$(basename "$file" .csv) $rows"
done
