#!/usr/bin/env bash
# libsev-tool's test: a whole legacy SEV launch between libsev-tool (the guest owner) and a
# file-driven hypervisor (c-tests/tool/hv.c) on libsev's firmware model, then the error paths:
# wrong policy, wrong firmware build, wrong image, tampered and missing files, unwritable
# outputs (and that no partial or temporary output file is ever left behind).
#
# usage: launch.sh TOOL HV OUTDIR
# The firmware image is Debian's OVMF (package ovmf) when installed, otherwise a generated one.
set -uo pipefail

if [ $# -ne 3 ]; then
    echo "usage: $0 TOOL HV OUTDIR" >&2
    exit 2
fi
TOOL=$1
HV=$2
OUT=$3
rm -rf "$OUT"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
export ASAN_OPTIONS="detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

passed=0
failed=0
hv_pid=
cleanup() { [ -n "$hv_pid" ] && kill "$hv_pid" 2>/dev/null; }
trap cleanup EXIT

ok() {
    passed=$((passed + 1))
    echo "PASS $*"
}
bad() {
    failed=$((failed + 1))
    echo "FAIL $*"
}

# expect RC NAME CMD...: run CMD (stdout+stderr to OUT/log/NAME), check its exit status.
mkdir -p "$OUT/log"
expect() {
    local want=$1 name=$2
    shift 2
    "$@" >"$OUT/log/$name" 2>&1
    local rc=$?
    if [ "$rc" -eq "$want" ]; then
        ok "$name (exit $rc)"
    else
        bad "$name: exit $rc, expected $want; output:"
        sed 's/^/    /' "$OUT/log/$name"
    fi
    # A sanitizer report fails the test whatever the exit status.
    if grep -q 'Sanitizer\|runtime error:' "$OUT/log/$name"; then
        bad "$name: sanitizer report"
        sed 's/^/    /' "$OUT/log/$name"
    fi
}
# says NAME TEXT: the log of NAME contains TEXT.
says() {
    if grep -qF -- "$2" "$OUT/log/$1"; then ok "$1 says '$2'"; else
        bad "$1 does not say '$2':"
        sed 's/^/    /' "$OUT/log/$1"
    fi
}
# absent FILE...: none of the files exists, and no temporary file is left in their directories.
absent() {
    local f
    for f in "$@"; do
        if [ -e "$f" ]; then bad "$f exists but should not"; else ok "no $(basename "$f")"; fi
        if ls -A "$(dirname "$f")" | grep -q '\.tmp-'; then
            bad "a temporary file was left in $(dirname "$f")"
        fi
    done
}

# hex2bin HEX: the bytes (coreutils only).
hex2bin() {
    # shellcheck disable=SC2059
    printf "$(printf %s "$1" | sed 's/../\\x&/g')"
}

FW=/usr/share/OVMF/OVMF_CODE.fd
if [ ! -r "$FW" ]; then
    echo "note: $FW is not installed (Debian package ovmf); using a generated 2 MiB image"
    FW=$OUT/firmware.fd
    head -c $((2 * 1024 * 1024)) /dev/urandom >"$FW"
fi
PLAT=$OUT/platform # the model's state directory: one chip across processes
O=$OUT/owner       # the guest owner's files
W=$OUT/work        # the files exchanged with the hypervisor
mkdir -p "$O" "$W"

# start_hv NAME POLICY WORKDIR: the hypervisor in the background.
start_hv() {
    "$HV" --platform-dir "$PLAT" --work "$3" --firmware "$FW" --policy "$2" --timeout 60 \
        >"$OUT/log/$1" 2>&1 &
    hv_pid=$!
}
# wait_hv WANT NAME: the hypervisor's exit status.
wait_hv() {
    wait "$hv_pid"
    local rc=$?
    hv_pid=
    if [ "$rc" -eq "$1" ]; then ok "$2 (exit $rc)"; else
        bad "$2: exit $rc, expected $1; output:"
        sed 's/^/    /' "$OUT/log/$2"
    fi
}
# give SRC DST: hand a file to the hypervisor complete (copy, then rename).
give() { cp "$1" "$2.part" && mv "$2.part" "$2"; }
# wait_file FILE: until the hypervisor wrote it (or it died).
wait_file() {
    local i
    for i in $(seq 600); do
        [ -e "$1" ] && return 0
        kill -0 "$hv_pid" 2>/dev/null || { [ -e "$1" ] && return 0; bad "hypervisor exited before writing $1"; return 1; }
        sleep 0.1
    done
    bad "timed out waiting for $1"
    return 1
}

echo "== help and usage"
for c in probe export verify session measure secret report snp-report; do
    expect 0 "help-$c" "$TOOL" "$c" --help
    says "help-$c" "usage: libsev-tool $c"
done
expect 2 "no-command" "$TOOL"
expect 2 "unknown-command" "$TOOL" frobnicate
expect 2 "unknown-option" "$TOOL" verify --frobnicate x

echo "== probe"
expect 0 probe-model "$TOOL" probe --platform "emulated:$PLAT"
says probe-model "[ PASS ] - certificate chain"
says probe-model "SEV guests can run on the firmware model"
says probe-model "[ PASS ] - SEV-SNP (informational): SNP_PLATFORM_STATUS API 1.55"
# This host: exit 0 only if every required item passed.
"$TOOL" probe >"$OUT/log/probe-host" 2>&1
rc=$?
if { [ $rc -eq 0 ] && ! grep -q '^\[ FAIL \] - [^(]*:' "$OUT/log/probe-host"; } ||
    { [ $rc -eq 1 ] && grep -q '^\[ \(FAIL\|SKIP\) \]' "$OUT/log/probe-host"; }; then
    ok "probe-host (exit $rc agrees with its items)"
else
    bad "probe-host: exit $rc disagrees with its items:"
    sed 's/^/    /' "$OUT/log/probe-host"
fi

echo "== measure"
SNPDATA=${LIBSEV_TESTDATA:-}/../snp/measurement
expect 0 measure "$TOOL" measure --mode sev --ovmf "$FW"
want=$(sha256sum "$FW" | cut -d' ' -f1)
says measure "$want"
LD=$want
expect 0 measure-b64 "$TOOL" measure --mode sev --ovmf "$FW" --output-format base64
says measure-b64 "$(hex2bin "$want" | base64 -w0)"
if "$TOOL" measure --help | grep -q -- "--mode seves   SEV-ES: the image"; then
    # Built against a libsev with the SEV-ES digest: known answers (snp-spec.md section 6.3).
    if [ -r "$SNPDATA/ovmf_AmdSev_suffix.bin" ]; then
        for kat in "1 init2 13810ae661ea11e2bb205621f582fee268f0367c8f97bc297b7fadef3e12002c" \
            "4 init2 0dccbcaba8e90b261bd0d2e1863a2f9da714768b7b2a19363cd6ae35aa90de91" \
            "1 es-init 664f688c75cd5c08855ead4f11501ff967e29762d16c8d589b8e6d7b6c4daa36" \
            "4 es-init bfe06ed004ea18350152361ca8aa4860e807976ef67e756b4b9e5b724e0713c9"; do
            set -- $kat
            expect 0 "measure-seves-$1-$2" "$TOOL" measure --mode seves --vcpus "$1" --vmsa-init "$2" \
                --vcpu-type EPYC-v4 --ovmf "$SNPDATA/ovmf_AmdSev_suffix.bin" --kernel /dev/null
            says "measure-seves-$1-$2" "$3"
        done
        # The same vCPU model named three ways gives the same digest.
        expect 0 measure-seves-sig "$TOOL" measure --mode seves --vcpus 4 --vcpu-sig 0x800f12 \
            --ovmf "$SNPDATA/ovmf_AmdSev_suffix.bin" --kernel /dev/null
        says measure-seves-sig 0dccbcaba8e90b261bd0d2e1863a2f9da714768b7b2a19363cd6ae35aa90de91
        expect 0 measure-seves-fms "$TOOL" measure --mode seves --vcpus 4 --vcpu-family 23 \
            --vcpu-model 1 --vcpu-stepping 2 --ovmf "$SNPDATA/ovmf_AmdSev_suffix.bin" --kernel /dev/null
        says measure-seves-fms 0dccbcaba8e90b261bd0d2e1863a2f9da714768b7b2a19363cd6ae35aa90de91
    fi
    expect 2 measure-seves-no-vcpu-type "$TOOL" measure --mode seves --vcpus 4 --ovmf "$FW"
    expect 2 measure-seves-no-vcpus "$TOOL" measure --mode seves --vcpu-type EPYC-v4 --ovmf "$FW"
else
    expect 2 measure-seves "$TOOL" measure --mode seves --vcpus 4 --vcpu-type EPYC-v4 --ovmf "$FW"
    says measure-seves "mode 'seves' (SEV-ES) is not supported"
fi
if "$TOOL" measure --help | grep -q -- "--mode snp     SEV-SNP: the SHA-384"; then
    # Built against a libsev with the SNP digest: known answers (snp-spec.md section 6.5).
    if [ -r "$SNPDATA/ovmf_AmdSev_suffix.bin" ]; then
        expect 0 measure-snp-1 "$TOOL" measure --mode snp --vcpus 1 --vcpu-type EPYC-v4 \
            --ovmf "$SNPDATA/ovmf_AmdSev_suffix.bin" --kernel /dev/null
        says measure-snp-1 ddc5224521617a536ee7ce9dd6224d1b58a8d4fda1c741f3ac99fc4bfa04ba6e9fc98646d4a07a9079397fa3852819b5
        expect 0 measure-snp-4 "$TOOL" measure --mode snp --vcpus 4 --vcpu-sig 0x800f12 \
            --guest-features 0x21 --ovmf "$SNPDATA/ovmf_AmdSev_suffix.bin" --kernel /dev/null
        says measure-snp-4 4953b1fb416fa874980e8442b3706d345926d5f38879134e00813c5d7abcbe78eafe7b422907be0b4698e2414a631942
        # An image without the kernel-hashes section cannot measure a kernel: refused.
        expect 1 measure-snp-x64-kernel "$TOOL" measure --mode snp --vcpus 1 --vcpu-type EPYC-v4 \
            --ovmf "$SNPDATA/ovmf_OvmfX64_suffix.bin" --kernel /dev/null
    fi
    expect 2 measure-snp-no-vcpu-type "$TOOL" measure --mode snp --vcpus 4 --ovmf "$FW"
    # An independent oracle: the Python sev-snp-measure on Debian's OVMF, when installed (.ci/run
    # installs it from PyPI), for the three VMM types, three CPU models, 1-64 vCPUs, DebugSwap.
    SSM=$(command -v sev-snp-measure || true)
    DEB_OVMF=/usr/share/OVMF/OVMF_CODE.fd
    if [ -n "$SSM" ] && [ -r "$DEB_OVMF" ]; then
        for cfg in "1 EPYC-v4 QEMU 0x1" "4 EPYC-Milan QEMU 0x21" "64 EPYC-Genoa QEMU 0x1" \
            "7 EPYC-Milan ec2 0x1" "2 EPYC-Milan gce 0x21"; do
            set -- $cfg
            want=$("$SSM" --mode snp --vcpus "$1" --vcpu-type "$2" --vmm-type "$3" \
                --guest-features "$4" --ovmf "$DEB_OVMF" 2>&1) || want="sev-snp-measure failed: $want"
            expect 0 "measure-snp-oracle-$1-$2-$3-$4" "$TOOL" measure --mode snp --vcpus "$1" \
                --vcpu-type "$2" --vmm-type "$3" --guest-features "$4" --ovmf "$DEB_OVMF"
            says "measure-snp-oracle-$1-$2-$3-$4" "$want"
        done
    else
        echo "note: sev-snp-measure or $DEB_OVMF absent: the SNP digest is not compared with it"
    fi
else
    expect 2 measure-snp "$TOOL" measure --mode snp --vcpus 4 --vcpu-type EPYC-v4 --ovmf "$FW"
    says measure-snp "mode 'snp' (SEV-SNP) is not supported"
fi
# Known answers (snp-spec.md section 6.3, from the sev-snp-measure and virtee/sev test suites) on
# the last 4 KiB of two OVMF builds from the shared test data.
if [ -r "$SNPDATA/ovmf_AmdSev_suffix.bin" ]; then
    expect 0 measure-kat-kernel "$TOOL" measure --mode sev --ovmf "$SNPDATA/ovmf_AmdSev_suffix.bin" \
        --kernel /dev/null
    says measure-kat-kernel 77f613d7bbcdf12a73782ea9e88b0172aeda50d1a54201cb903594ff52846898
    expect 0 measure-kat-append "$TOOL" measure --mode sev --ovmf "$SNPDATA/ovmf_AmdSev_suffix.bin" \
        --kernel /dev/null --append "console=ttyS0 loglevel=7"
    says measure-kat-append 82a3ee5d537c3620628270c292ae30cb40c3c878666a7890ee7ef2a08fb535ff
    expect 0 measure-kat-x64 "$TOOL" measure --mode sev --ovmf "$SNPDATA/ovmf_OvmfX64_suffix.bin"
    says measure-kat-x64 b4c021e085fb83ceffe6571a3d357b4a98773c83c474e47f76c876708fe316da
    # An OVMF without the kernel-hashes table cannot measure a kernel: refused.
    expect 1 measure-kat-x64-kernel "$TOOL" measure --mode sev \
        --ovmf "$SNPDATA/ovmf_OvmfX64_suffix.bin" --kernel /dev/null
    says measure-kat-x64-kernel "no SEV hashes table"
else
    echo "note: no $SNPDATA/ovmf_AmdSev_suffix.bin (shared test data); kernel-hashes known answers not checked"
fi
expect 2 measure-initrd-no-kernel "$TOOL" measure --mode sev --ovmf "$FW" --initrd "$FW"
expect 2 measure-missing "$TOOL" measure --mode sev --ovmf "$OUT/nonexistent.fd"
says measure-missing "nonexistent.fd"

echo "== export and verify (the owner gets the platform's chain)"
expect 0 export "$TOOL" export --platform "emulated:$PLAT" --full --pdh "$O/pdh.cert" "$O/chain.cert"
expect 0 export-short "$TOOL" export --platform "emulated:$PLAT" "$O/chain4.cert"
if [ "$(stat -c %s "$O/chain4.cert")" -eq 8336 ] && cmp -s -n 2084 "$O/pdh.cert" "$O/chain.cert"; then
    ok "export sizes and PDH"
else bad "export sizes and PDH"; fi
expect 0 verify "$TOOL" verify --allow-test-root "$O/chain.cert"
says verify "PDH signed by PEK"
says verify "chain verified"
expect 1 verify-test-root "$TOOL" verify "$O/chain.cert"
says verify-test-root "refused without --allow-test-root"
# The exported CEK is unsigned: a 4-certificate chain with AMD's ASK || ARK taken from the full
# export still fails at the CEK.
tail -c +8337 "$O/chain.cert" >"$O/ask_ark.cert"
expect 1 verify-unsigned-cek "$TOOL" verify --allow-test-root --ask-ark "$O/ask_ark.cert" "$O/chain4.cert"
says verify-unsigned-cek "first failure"
# One flipped byte in the PDH's signature block: the PDH link fails, named.
cp "$O/chain.cert" "$O/chain-tampered.cert"
printf '\x5a' | dd of="$O/chain-tampered.cert" bs=1 seek=1050 conv=notrunc status=none
expect 1 verify-tampered "$TOOL" verify --allow-test-root "$O/chain-tampered.cert"
says verify-tampered "FAILED"
expect 2 verify-missing "$TOOL" verify --allow-test-root "$O/nope.cert"
head -c 5000 "$O/chain.cert" >"$O/chain-short.cert"
expect 1 verify-truncated "$TOOL" verify --allow-test-root "$O/chain-short.cert"

echo "== a whole launch: owner (libsev-tool) and hypervisor (hv) through files"
POLICY=0x0 # debugging allowed, so the test can read the injected secret back
expect 0 session "$TOOL" session --chain "$O/chain.cert" --allow-test-root --policy $POLICY \
    --godh "$O/godh.b64" --session "$O/session.b64" --state "$O/owner.state"
if [ "$(stat -c %a "$O/owner.state")" = 600 ]; then ok "owner state is mode 0600"; else
    bad "owner state has mode $(stat -c %a "$O/owner.state")"; fi
start_hv hv-launch $POLICY "$W"
give "$O/godh.b64" "$W/godh.b64"
give "$O/session.b64" "$W/session.b64"
wait_file "$W/query-sev"
API=$(awk '/api-major/ {a=$2} /api-minor/ {b=$2} END {print a "." b}' "$W/query-sev")
BUILD=$(awk '/build-id/ {print $2}' "$W/query-sev")
printf 'disk-key=0123456789abcdef; owner=tool-test' >"$O/secret.txt"
# The wrong firmware build, the wrong image, a tampered measurement and a damaged state file
# are refused and write nothing.
expect 1 secret-wrong-build "$TOOL" secret --state "$O/owner.state" --measurement "$W/measurement.b64" \
    --api "$API" --build $((BUILD ^ 1)) --launch-digest "$LD" --secret "$O/secret.txt" --pad \
    --header "$O/hdr.b64" --payload "$O/payload.b64"
says secret-wrong-build "does not match"
head -c 4096 /dev/zero >"$O/other.fd"
expect 1 secret-wrong-image "$TOOL" secret --state "$O/owner.state" --measurement "$W/measurement.b64" \
    --api "$API" --build "$BUILD" --ovmf "$O/other.fd" --secret "$O/secret.txt" --pad \
    --header "$O/hdr.b64" --payload "$O/payload.b64"
base64 -d "$W/measurement.b64" >"$O/meas.bin"
cp "$O/meas.bin" "$O/meas-tampered.bin"
printf '\x01' | dd of="$O/meas-tampered.bin" bs=1 seek=3 conv=notrunc status=none
expect 1 secret-tampered-measurement "$TOOL" secret --state "$O/owner.state" \
    --measurement "$O/meas-tampered.bin" --api "$API" --build "$BUILD" --launch-digest "$LD" \
    --secret "$O/secret.txt" --pad --header "$O/hdr.b64" --payload "$O/payload.b64"
cp "$O/owner.state" "$O/state-tampered"
printf '\x01' | dd of="$O/state-tampered" bs=1 seek=20 conv=notrunc status=none
expect 1 secret-tampered-state "$TOOL" secret --state "$O/state-tampered" \
    --measurement "$W/measurement.b64" --api "$API" --build "$BUILD" --launch-digest "$LD" \
    --secret "$O/secret.txt" --pad --header "$O/hdr.b64" --payload "$O/payload.b64"
expect 2 secret-missing-state "$TOOL" secret --state "$O/absent.state" \
    --measurement "$W/measurement.b64" --api "$API" --build "$BUILD" --launch-digest "$LD" \
    --secret "$O/secret.txt" --pad --header "$O/hdr.b64" --payload "$O/payload.b64"
expect 2 secret-unpadded "$TOOL" secret --state "$O/owner.state" \
    --measurement "$W/measurement.b64" --api "$API" --build "$BUILD" --launch-digest "$LD" \
    --secret "$O/secret.txt" --header "$O/hdr.b64" --payload "$O/payload.b64"
absent "$O/hdr.b64" "$O/payload.b64"
# Unwritable output: the payload path is a directory (the header, written first, must not
# remain either), and a write that fails half-way (file size limit) leaves nothing.
mkdir -p "$O/payload-dir.b64"
expect 2 secret-output-is-dir "$TOOL" secret --state "$O/owner.state" \
    --measurement "$W/measurement.b64" --api "$API" --build "$BUILD" --launch-digest "$LD" \
    --secret "$O/secret.txt" --pad --header "$O/hdr.b64" --payload "$O/payload-dir.b64"
absent "$O/hdr.b64"
expect 2 secret-no-such-dir "$TOOL" secret --state "$O/owner.state" \
    --measurement "$W/measurement.b64" --api "$API" --build "$BUILD" --launch-digest "$LD" \
    --secret "$O/secret.txt" --pad --header "$O/hdr.b64" --payload "$O/nodir/payload.b64"
absent "$O/hdr.b64"
# The good one, straight into the hypervisor's directory.
expect 0 secret "$TOOL" secret --state "$O/owner.state" --measurement "$W/measurement.b64" \
    --api "$API" --build "$BUILD" --ovmf "$FW" --secret "$O/secret.txt" --pad \
    --header "$W/secret-header.b64.new" --payload "$W/secret-payload.b64.new"
says secret "measurement verified"
mv "$W/secret-payload.b64.new" "$W/secret-payload.b64"
mv "$W/secret-header.b64.new" "$W/secret-header.b64"
wait_file "$W/guest-secret.bin"
# The guest holds exactly the owner's secret (zero-padded to 16 bytes).
cp "$O/secret.txt" "$O/secret-padded"
len=$(stat -c %s "$O/secret.txt")
head -c $(((16 - len % 16) % 16)) /dev/zero >>"$O/secret-padded"
if cmp -s "$O/secret-padded" "$W/guest-secret.bin"; then ok "the guest reads the owner's secret"; else
    bad "the guest's secret differs from the owner's"; fi
# Attestation with the owner's nonce.
NONCE=00112233445566778899aabbccddeeff
hex2bin "$NONCE" >"$O/mnonce.bin" && give "$O/mnonce.bin" "$W/mnonce.bin"
wait_file "$W/report.b64"
wait_hv 0 hv-launch
expect 0 report "$TOOL" report --report "$W/report.b64" --chain "$O/chain.cert" --allow-test-root \
    --nonce "$NONCE" --launch-digest "$LD" --policy $POLICY
says report "expected values match"
expect 1 report-wrong-nonce "$TOOL" report --report "$W/report.b64" --chain "$O/chain.cert" \
    --allow-test-root --nonce ffffffffffffffffffffffffffffffff
expect 1 report-test-root "$TOOL" report --report "$W/report.b64" --chain "$O/chain.cert"
base64 -d "$W/report.b64" >"$O/report.bin"
printf '\x01' | dd of="$O/report.bin" bs=1 seek=20 conv=notrunc status=none
expect 1 report-tampered "$TOOL" report --report "$O/report.bin" --chain "$O/chain.cert" --allow-test-root

echo "== the wrong policy: the hypervisor launches with another policy than the owner's session"
W2=$OUT/work-policy
mkdir -p "$W2"
start_hv hv-wrong-policy 0x1 "$W2"
give "$O/godh.b64" "$W2/godh.b64"
give "$O/session.b64" "$W2/session.b64"
wait_hv 1 hv-wrong-policy
says hv-wrong-policy "BAD_MEASUREMENT"

echo "== a tampered secret packet is refused by the firmware"
W3=$OUT/work-tampered
mkdir -p "$W3"
expect 0 session2 "$TOOL" session --pdh "$O/pdh.cert" --policy $POLICY --format raw \
    --godh "$O/godh2.bin" --session "$O/session2.bin" --state "$O/owner2.state"
start_hv hv-tampered $POLICY "$W3"
base64 -w0 "$O/godh2.bin" >"$O/godh2.b64" && give "$O/godh2.b64" "$W3/godh.b64"
base64 -w0 "$O/session2.bin" >"$O/session2.b64" && give "$O/session2.b64" "$W3/session.b64"
wait_file "$W3/query-sev"
expect 0 secret2 "$TOOL" secret --state "$O/owner2.state" --measurement "$W3/measurement.b64" \
    --api "$API" --build "$BUILD" --launch-digest "$LD" --secret "$O/secret.txt" --pad \
    --format raw --header "$O/hdr2.bin" --payload "$O/payload2.bin"
printf '\x01' | dd of="$O/payload2.bin" bs=1 seek=5 conv=notrunc status=none
base64 -w0 "$O/hdr2.bin" >"$O/hdr2.b64" && give "$O/hdr2.b64" "$W3/secret-header.b64"
base64 -w0 "$O/payload2.bin" >"$O/payload2.b64" && give "$O/payload2.b64" "$W3/secret-payload.b64"
wait_hv 1 hv-tampered
says hv-tampered "BAD_MEASUREMENT"

echo "== snp-report"
# An SNP guest on the model (c-tests/tool/snp_guest.c plays the host and the guest), its report
# checked by the tool as the guest owner, with the digest the tool itself computed.
SG=$(dirname "$HV")/snp_guest
DEB_OVMF=/usr/share/OVMF/OVMF_CODE.fd
if [ -x "$SG" ] && [ -r "$DEB_OVMF" ]; then
    NONCE=$(od -An -tx1 -N64 /dev/urandom | tr -d ' \n')
    HD=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
    "$SG" "$DEB_OVMF" 2 EPYC-Milan "$NONCE" "$HD" "$O/snp-report.bin" "$O/snp-certs.bin" \
        >"$OUT/log/snp-guest" 2>&1 && ok "snp-guest" || bad "snp-guest: $(cat "$OUT/log/snp-guest")"
    SLD=$("$TOOL" measure --mode snp --vcpus 2 --vcpu-type EPYC-Milan --ovmf "$DEB_OVMF")
    SR=("$TOOL" snp-report --report "$O/snp-report.bin" --certs "$O/snp-certs.bin")
    expect 0 snp-report "${SR[@]}" --allow-test-root --measurement "$SLD" --nonce "$NONCE" \
        --host-data "$HD" --vmpl 0 --policy-allowed 0x3ffff
    says snp-report "every check passed"
    says snp-report "measurement   $SLD"
    base64 -w0 "$O/snp-report.bin" >"$O/snp-report.b64"
    expect 0 snp-report-b64 "$TOOL" snp-report --report "$O/snp-report.b64" \
        --certs "$O/snp-certs.bin" --allow-test-root --measurement "$SLD"
    expect 1 snp-report-test-root "${SR[@]}" --measurement "$SLD"
    says snp-report-test-root "libsev status 2004"
    expect 1 snp-report-other-digest "${SR[@]}" --allow-test-root --measurement "${SLD/?/0}" \
        --nonce "$NONCE"
    says snp-report-other-digest "FAILED        measurement"
    expect 1 snp-report-replayed "${SR[@]}" --allow-test-root --nonce 00
    says snp-report-replayed "FAILED        report_data"
    cp "$O/snp-report.bin" "$O/snp-tampered.bin"
    printf '\xff' | dd of="$O/snp-tampered.bin" bs=1 seek=$((0xC0)) conv=notrunc 2>/dev/null
    expect 1 snp-report-tampered "$TOOL" snp-report --report "$O/snp-tampered.bin" \
        --certs "$O/snp-certs.bin" --allow-test-root --host-data "$HD"
    says snp-report-tampered "FAILED        signature"
    says snp-report-tampered "FAILED        host_data"
    # AMD's real Turin chain verifies, but it did not sign the model's report.
    TD=${LIBSEV_TESTDATA:-}/../snp
    if [ -r "$TD/turin/vcek.der" ]; then
        expect 1 snp-report-turin "$TOOL" snp-report --report "$O/snp-report.bin" \
            --ark "$TD/builtin/turin/ark.pem" --ask "$TD/builtin/turin/ask.pem" \
            --vcek "$TD/turin/vcek.der" --generation turin
        says snp-report-turin "AMD's root"
        says snp-report-turin "FAILED        signature"
        expect 1 snp-report-turin-as-milan "$TOOL" snp-report --report "$O/snp-report.bin" \
            --ark "$TD/builtin/turin/ark.pem" --ask "$TD/builtin/turin/ask.pem" \
            --vcek "$TD/turin/vcek.der" --generation milan
        says snp-report-turin-as-milan "is for Turin, not the required Milan"
    fi
    expect 2 snp-report-no-certs "$TOOL" snp-report --report "$O/snp-report.bin"
    expect 2 snp-report-short "$TOOL" snp-report --report "$O/snp-certs.bin" \
        --certs "$O/snp-certs.bin"
    expect 2 snp-report-bad-nonce "${SR[@]}" --nonce xyz
else
    echo "note: no $DEB_OVMF (Debian's ovmf) or snp_guest: snp-report not exercised"
fi

echo "== outputs are all or nothing"
# session: the third output cannot be written, so none of the three may exist.
expect 2 session-unwritable "$TOOL" session --pdh "$O/pdh.cert" --policy 0x1 \
    --godh "$O/g3.b64" --session "$O/s3.b64" --state "$O/nodir/st3"
absent "$O/g3.b64" "$O/s3.b64"
# A write that fails half-way (RLIMIT_FSIZE; SIGXFSZ ignored, so write() fails with EFBIG).
(
    trap '' XFSZ
    ulimit -f 2
    "$TOOL" export --platform "emulated:$PLAT" --full "$O/big.cert" >"$OUT/log/export-efbig" 2>&1
    echo $? >"$OUT/log/export-efbig.rc"
)
if [ "$(cat "$OUT/log/export-efbig.rc")" = 2 ]; then ok "export-efbig (exit 2)"; else
    bad "export-efbig: exit $(cat "$OUT/log/export-efbig.rc"), expected 2"
    sed 's/^/    /' "$OUT/log/export-efbig"
fi
absent "$O/big.cert"
expect 2 session-bad-policy "$TOOL" session --pdh "$O/pdh.cert" --policy 0x40 \
    --godh "$O/g4.b64" --session "$O/s4.b64" --state "$O/st4"
absent "$O/g4.b64" "$O/s4.b64" "$O/st4"
expect 2 session-missing-pdh "$TOOL" session --pdh "$O/none.cert" --policy 0 \
    --godh "$O/g5.b64" --session "$O/s5.b64" --state "$O/st5"
absent "$O/g5.b64"

echo "tool-test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
