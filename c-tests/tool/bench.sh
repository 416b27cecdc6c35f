#!/usr/bin/env bash
# Benchmark (not a test): `libsev-tool measure` against the Python sev-snp-measure on the same
# OVMF image in the same run, whole process each (what a script pays). Prints the median wall
# time of each and the ratio. Modes the tool refuses (not supported by this libsev yet) are
# reported as such.
#
# usage: bench.sh TOOL OVMF [RUNS]     (needs `pip install sev-snp-measure`)
set -uo pipefail
TOOL=$1
OVMF=$2
RUNS=${3:-15}
PY=$(command -v sev-snp-measure || true)
if [ -z "$PY" ]; then
    echo "bench-tool: sev-snp-measure is not installed (pip install sev-snp-measure); nothing to compare"
    exit 0
fi
[ -r "$OVMF" ] || { echo "bench-tool: $OVMF not readable (Debian package ovmf)"; exit 2; }
echo "bench-tool: $(basename "$OVMF") ($(stat -c %s "$OVMF") bytes), $RUNS runs each, median wall time"

# median_ms CMD...: run CMD RUNS times, print the median wall time in milliseconds.
median_ms() {
    local i t0 t1
    for i in $(seq "$RUNS"); do
        t0=$(date +%s%N)
        "$@" >/dev/null 2>&1 || return 1
        t1=$(date +%s%N)
        echo $(((t1 - t0) / 1000))
    done | sort -n | awk '{ a[NR] = $1 } END { printf "%.2f\n", a[int((NR + 1) / 2)] / 1000 }'
}

compare() {
    local label=$1
    shift
    local want got
    want=$("$PY" "$@" 2>&1) || { echo "$label: sev-snp-measure failed: $want"; return; }
    if ! got=$("$TOOL" measure "$@" 2>&1); then
        echo "$label: libsev-tool refuses: $got"
        return
    fi
    if [ "$want" != "$got" ]; then
        echo "$label: DIFFERENT results: sev-snp-measure $want, libsev-tool $got"
        return
    fi
    local py tool
    py=$(median_ms "$PY" "$@")
    tool=$(median_ms "$TOOL" measure "$@")
    awk -v l="$label" -v p="$py" -v t="$tool" -v d="$got" 'BEGIN {
        printf "%s: same digest %s...; sev-snp-measure %.2f ms, libsev-tool %.2f ms: %.1fx faster (tool/python = %.3f)\n",
            l, substr(d, 1, 16), p, t, p / t, t / p }'
}

compare "sev, 64 vCPUs" --mode sev --vcpus 64 --ovmf "$OVMF"
compare "seves, 64 vCPUs" --mode seves --vcpus 64 --vcpu-type EPYC-v4 --ovmf "$OVMF"
compare "snp, 64 vCPUs" --mode snp --vcpus 64 --vcpu-type EPYC-v4 --ovmf "$OVMF"
