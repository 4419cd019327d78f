#!/usr/bin/env bash
# Instructions per decision, counted by callgrind inside mqward-decide-loop's loop: exact and
# repeatable where criterion's times are noisy. Prints a markdown table.
# Usage: benches/instructions.sh [ITERATIONS]  (needs valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."
iterations=${1:-200}
cargo build -q --release -p mqward-benches --bin mqward-decide-loop
bin=target/release/mqward-decide-loop
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
count() { # size doc strategy operation case -> instructions per decision, or "-" if it fails
    local file="$out/$1-$2-$3-$4-$5"
    if valgrind --tool=callgrind --callgrind-out-file="$file" --toggle-collect='mqward_decide_loop::decide_loop' \
        "$bin" "$@" "$iterations" >/dev/null 2>"$file.err"; then
        awk -v n="$iterations" '/^summary:/ { printf "%d", $2 / n }' "$file"
    else
        printf -- "-"
    fi
}
echo "| case | statements | fleet indexed | flat indexed | fleet linear |"
echo "|---|---:|---:|---:|---:|"
for c in "publish telemetry-var" "publish ota-device-glob" "subscribe own-cmd-contained" \
    "subscribe broad-deny" "receive config-device-exact"; do
    for n in 10 1000 100000; do
        echo "| $c | $n | $(count $n fleet indexed $c) | $(count $n flat indexed $c) | $(count $n fleet linear $c) |"
    done
done
