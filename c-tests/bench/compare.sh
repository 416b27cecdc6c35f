#!/usr/bin/env bash
# Sets the same-run ratios of the Rust benchmarks (src/benches, through the Rust API) beside
# those of the C benchmarks (c-tests/bench, through the installed C ABI): one line per figure
# with both ratios and C/Rust (target >= 0.95: the C path within 5 % of the Rust path).
#
# Usage: compare.sh RUST_OUTPUT C_OUTPUT   (the benchmarks' stdout, saved by `make bench`)
set -euo pipefail
rust=$1 c=$2

# ratio FILE FIGURE: the first "ratio X" on the line that starts with "FIGURE:".
ratio() {
    sed -n "s/^$2:.* ratio \([0-9.]*\).*/\1/p" "$1" | head -n 1
}
# per_packet FILE COMMAND: the microseconds per packet of COMMAND on the "per packet" line.
per_packet() {
    sed -n "s/^per packet.*$2 \([0-9.]*\) us.*/\1/p" "$1" | head -n 1
}

echo "== same-run ratios: Rust API beside C ABI (C/Rust target >= 0.95)"
printf '%-20s %8s %8s %8s\n' figure rust c c/rust
for f in launch_update_data dbg_decrypt migration snp_launch_update; do
    r=$(ratio "$rust" "$f") cr=$(ratio "$c" "$f")
    if [ -z "$r" ] || [ -z "$cr" ]; then
        printf '%-20s %8s %8s %8s\n' "$f" "${r:-n/a}" "${cr:-n/a}" "n/a"
        continue
    fi
    rel=$(awk -v a="$cr" -v b="$r" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
    verdict=$(awk -v x="$rel" 'BEGIN { print (x >= 0.95) ? "ok" : "BELOW" }')
    printf '%-20s %8s %8s %8s %s\n' "$f" "$r" "$cr" "$rel" "$verdict"
done
for cmd in SEND_UPDATE_DATA RECEIVE_UPDATE_DATA; do
    r=$(per_packet "$rust" "$cmd") cr=$(per_packet "$c" "$cmd")
    printf '%-20s %8s %8s   (us per 4 KiB packet, one process)\n' "$cmd" "${r:-n/a}" "${cr:-n/a}"
done
