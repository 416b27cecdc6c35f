#!/usr/bin/env bash
# Build the fuzz targets and run each for a bounded time (used by `make fuzz`).
#
#   bash src/fuzz/run.sh SECONDS TESTDATA_DIR OUT_DIR TARGET_DIR [TARGET...]
#
# Needs cargo-fuzz; only a stable toolchain is assumed: RUSTC_BOOTSTRAP=1 lets stable rustc
# accept the nightly-only flags cargo-fuzz passes (-Zsanitizer=address and friends).
# Corpora grow in OUT_DIR/corpus/<target>; a crash leaves its input in
# OUT_DIR/artifacts/<target>/ and fails the run. Debug assertions are on (-a), so integer
# overflow is a crash too.
set -euo pipefail
secs=${1:?seconds}
td=${2:?testdata}
out=${3:?output dir}
tdir=${4:?cargo target dir}
shift 4
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(chain launch_start launch_secret receive_update ffi_lengths dbg snp_cert snp_report)
here=$(cd "$(dirname "$0")" && pwd)
export RUSTC_BOOTSTRAP=1
fuzz=(cargo fuzz)
common=(--fuzz-dir "$here" --target-dir "$tdir" -O -a)

"${fuzz[@]}" build "${common[@]}"
bash "$here/seeds.sh" "$td" "$out/corpus"
summary=()
failed=0
for t in "${targets[@]}"; do
    mkdir -p "$out/corpus/$t" "$out/artifacts/$t" "$out/logs"
    log=$out/logs/$t.log
    echo "== fuzz $t for ${secs}s"
    set +e
    "${fuzz[@]}" run "${common[@]}" "$t" "$out/corpus/$t" -- \
        -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$out/artifacts/$t/" \
        -rss_limit_mb=4096 > "$log" 2>&1
    rc=$?
    set -e
    runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1 executions in \2 s/p' "$log" | tail -n 1)
    [ -n "$runs" ] || runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1) executions"
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 || true)
    n=$(find "$out/corpus/$t" -type f | wc -l)
    if [ $rc -ne 0 ]; then
        failed=1
        summary+=("$t: FAILED (exit $rc) after $runs; see $log and $out/artifacts/$t/")
        tail -n 40 "$log"
    else
        summary+=("$t: $runs, $cov, corpus $n inputs, no crash")
    fi
done
echo "== fuzz summary (${secs}s per target)"
printf '%s\n' "${summary[@]}"
exit $failed
