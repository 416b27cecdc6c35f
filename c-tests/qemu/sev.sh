#!/usr/bin/env bash
# Debian's unmodified QEMU runs its SEV launch on libsev's firmware model through
# libsev-preload.so (README.md, "Run QEMU's SEV path on the model").
#
#   bash c-tests/qemu/sev.sh STAGE PREFIX OUTDIR
#
# STAGE/PREFIX is a staged `make install` (libsev through pkg-config, lib/libsev-preload.so);
# OUTDIR receives the owner program, the model's state directory, QEMU's logs and the QMP
# transcript. Environment: QEMU (default qemu-system-x86_64), OVMF_CODE (default
# /usr/share/OVMF/OVMF_CODE.fd), CC.
#
# Checks, in order:
#   0. semantics.c: what a program sees on the /dev/sev placeholder and a real KVM VM fd
#      (write-backs, error field, errnos, 32-bit request compare, fork, close, dup, threads);
#   1. with the interposer loaded and LIBSEV_PLATFORM set, a QEMU without SEV starts and
#      answers QMP exactly as without the interposer;
#   2. with the interposer loaded and LIBSEV_PLATFORM unset, a QEMU asked for SEV fails exactly
#      as without the interposer (this host has no /dev/sev);
#   3. the launch, for SEV and for SEV-ES (2 vCPUs): the owner makes a session from the model's
#      PDH (chain verified), QEMU (-S) reaches launch-secret, its measurement verifies against
#      the OVMF image it loaded (and, for SEV-ES, the VMSAs of QEMU's vCPUs at reset), a
#      tampered secret is refused with the model's firmware status, the good one is injected,
#      `cont` makes query-sev report running, `quit` stops QEMU cleanly;
#   4. a tampered session file: QEMU stops at LAUNCH_START and reports the same firmware status
#      that libsev's own API gets from the model for those files.
# Exit status: 0 pass, 1 fail, 77 skip (QEMU cannot run here: no binary or no usable /dev/kvm).
set -uo pipefail

if [ $# -ne 3 ]; then
    echo "usage: $0 STAGE PREFIX OUTDIR" >&2
    exit 2
fi
stage=$(cd "$1" && pwd)
prefix=$2
mkdir -p "$3"
out=$(cd "$3" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
libdir=$stage$prefix/lib
preload=$libdir/libsev-preload.so
qemu=${QEMU:-qemu-system-x86_64}
ovmf=${OVMF_CODE:-/usr/share/OVMF/OVMF_CODE.fd}
CC=${CC:-gcc}
policy=0x1 # NODBG

fail() {
    echo "qemu-sev: FAIL: $*"
    exit 1
}
skip() {
    echo "qemu-sev: SKIP: $*"
    exit 77
}

command -v "$qemu" >/dev/null 2>&1 || skip "no $qemu (Debian: apt-get install qemu-system-x86)"
[ -e /dev/kvm ] || skip "no /dev/kvm: QEMU cannot start a KVM guest here"
[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip "/dev/kvm is not readable and writable by $(id -un)"
[ -f "$ovmf" ] || fail "no OVMF image at $ovmf (Debian: apt-get install ovmf)"
[ -f "$preload" ] || fail "the staged install has no $preload"
command -v python3 >/dev/null 2>&1 || fail "python3 is needed for the QMP client"
qmp=(python3 "$here/qmp.py")
echo "qemu-sev: $("$qemu" --version | head -n 1); OVMF $ovmf"

# --- the owner program, built against the staged libsev through pkg-config
export PKG_CONFIG_LIBDIR="$libdir/pkgconfig" PKG_CONFIG_PATH= PKG_CONFIG_SYSROOT_DIR="$stage"
export PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1 PKG_CONFIG_ALLOW_SYSTEM_LIBS=1
# shellcheck disable=SC2046
"$CC" -std=gnu11 -Wall -Wextra -Werror -g -O1 "$here/owner.c" -o "$out/owner" \
    $(pkg-config --cflags --libs libsev) || fail "building the owner program"
owner() { LD_LIBRARY_PATH=$libdir "$out/owner" "$@"; }

state=$out/state
rm -rf "$state" "$out/owner-files" "$out/tampered" "$out"/*.log "$out"/*.sock
mkdir -p "$state" "$out/owner-files" "$out/tampered"
export LIBSEV_PLATFORM=emulated:$state
transcript=$out/qmp-transcript.txt
: >"$transcript"

qemu_pid=
stop_qemu() {
    if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
        kill "$qemu_pid" 2>/dev/null
        wait "$qemu_pid" 2>/dev/null
    fi
    qemu_pid=
}
trap stop_qemu EXIT

# start_qemu NAME ENV... -- QEMU-ARGS...: QEMU in the background (its pid in qemu_pid; the EXIT
# trap kills it if the test stops early), -S, QMP on OUT/NAME.sock, stdout+stderr in
# OUT/NAME.log.
start_qemu() {
    local name=$1
    shift
    local envs=()
    while [ "$1" != -- ]; do
        envs+=("$1")
        shift
    done
    shift
    rm -f "$out/$name.sock"
    env "${envs[@]}" "$qemu" -accel kvm -nographic -nodefaults -S -m 256 \
        -qmp "unix:$out/$name.sock,server=on,wait=off" "$@" >"$out/$name.log" 2>&1 &
    qemu_pid=$!
    for _ in $(seq 1 300); do
        [ -S "$out/$name.sock" ] && return 0
        kill -0 "$qemu_pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
q() { # q NAME COMMAND [JSON]: one QMP command, its answer on stdout
    local name=$1
    shift
    "${qmp[@]}" "$out/$name.sock" "$@"
}
field() { # field JSON PYTHON-EXPRESSION-ON-j
    python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"
}

# --- 0. the interposer's kernel semantics, from a plain C program (semantics.c)
"$CC" -std=gnu11 -Wall -Wextra -Werror -g -O1 "$here/semantics.c" -o "$out/semantics" -lpthread ||
    fail "building semantics.c"
LD_PRELOAD=$preload "$out/semantics" on || fail "the interposer's semantics (LIBSEV_PLATFORM set)"
env -u LIBSEV_PLATFORM LD_PRELOAD="$preload" "$out/semantics" off ||
    fail "the interposer's semantics (LIBSEV_PLATFORM unset)"

# --- 1. invisible to a QEMU without SEV
plain_args=(-machine q35)
for mode in plain preloaded; do
    envs=(LIBSEV_PLATFORM="$LIBSEV_PLATFORM")
    [ "$mode" = preloaded ] && envs+=(LD_PRELOAD="$preload")
    start_qemu "nosev-$mode" "${envs[@]}" -- "${plain_args[@]}" ||
        fail "QEMU without SEV ($mode) did not start: $(cat "$out/nosev-$mode.log")"
    if [ "$mode" = preloaded ]; then
        grep -q libsev-preload.so "/proc/$qemu_pid/maps" ||
            fail "libsev-preload.so is not mapped into QEMU"
    fi
    {
        q "nosev-$mode" query-status
        q "nosev-$mode" query-sev
        q "nosev-$mode" query-kvm
    } >"$out/nosev-$mode.answers"
    q "nosev-$mode" quit >/dev/null || fail "quit ($mode)"
    wait "$qemu_pid" || fail "QEMU without SEV ($mode) exited with $?"
    qemu_pid=
done
cmp -s "$out/nosev-plain.answers" "$out/nosev-preloaded.answers" ||
    fail "QMP answers differ with the interposer: $(diff "$out/nosev-plain.answers" "$out/nosev-preloaded.answers")"
echo "qemu-sev: ok: QEMU without SEV answers QMP identically with the interposer loaded ($(head -c 80 "$out/nosev-preloaded.answers")...)"

# --- 2. invisible without LIBSEV_PLATFORM
sev_args=(-machine q35,memory-encryption=sev0
    -object "sev-guest,id=sev0,cbitpos=0,reduced-phys-bits=1,policy=$policy"
    -drive "if=pflash,format=raw,unit=0,file=$ovmf,readonly=on")
for mode in plain preloaded; do
    envs=(-u LIBSEV_PLATFORM)
    [ "$mode" = preloaded ] && envs+=(LD_PRELOAD="$preload")
    env "${envs[@]}" timeout 120 "$qemu" -accel kvm -nographic -nodefaults -S -m 256 \
        "${sev_args[@]}" -qmp "unix:$out/unset-$mode.sock,server=on,wait=off" \
        >"$out/unset-$mode.log" 2>&1 </dev/null &
    qemu_pid=$!
    for _ in $(seq 1 100); do
        kill -0 "$qemu_pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$qemu_pid" 2>/dev/null; then
        q "unset-$mode" quit >/dev/null
    fi
    wait "$qemu_pid"
    echo "exit status $?" >>"$out/unset-$mode.log"
    qemu_pid=
done
cmp -s "$out/unset-plain.log" "$out/unset-preloaded.log" ||
    fail "without LIBSEV_PLATFORM, QEMU behaves differently with the interposer: $(diff "$out/unset-plain.log" "$out/unset-preloaded.log")"
echo "qemu-sev: ok: without LIBSEV_PLATFORM the interposer changes nothing: $(tr '\n' ' ' <"$out/unset-preloaded.log")"

# --- 3. the launch: legacy SEV, then SEV-ES (policy bit 2) with two real KVM vCPUs
files=$out/owner-files
# launch NAME POLICY "VERIFY-EXTRA" QEMU-EXTRA...: one owner-verified launch (see the header).
launch() {
    local name=$1 pol=$2 verify_extra=$3
    shift 3
    local dir=$files/$name
    mkdir -p "$dir"
    owner session "$dir" "$pol" || fail "owner session ($name)"
    local args=(-machine q35,memory-encryption=sev0
        -object "sev-guest,id=sev0,cbitpos=0,reduced-phys-bits=1,policy=$pol,dh-cert-file=$dir/godh.b64,session-file=$dir/session.b64"
        -drive "if=pflash,format=raw,unit=0,file=$ovmf,readonly=on" "$@")
    echo "qemu-sev: [$name] LD_PRELOAD=$preload LIBSEV_PLATFORM=$LIBSEV_PLATFORM $qemu -accel kvm -nographic -nodefaults -S -m 256 -qmp unix:$out/$name.sock,server=on,wait=off ${args[*]}"
    echo "== $name" >>"$transcript"
    export QMP_TRANSCRIPT=$transcript
    start_qemu "$name" LD_PRELOAD="$preload" -- "${args[@]}" ||
        fail "QEMU ($name) did not start: $(cat "$out/$name.log")"
    local sev meas ans code state_now hdr secret bad_hdr
    sev=$(q "$name" query-sev) || fail "query-sev: $sev"
    [ "$(field "$sev" 'j["return"]["state"]')" = launch-secret ] || fail "query-sev before cont: $sev"
    [ "$(field "$sev" 'j["return"]["policy"]')" = $((pol)) ] || fail "query-sev policy: $sev"
    meas=$(q "$name" query-sev-launch-measure) || fail "query-sev-launch-measure: $meas"
    meas=$(field "$meas" 'j["return"]["data"]')
    # shellcheck disable=SC2086
    owner verify "$dir" "$meas" "$(field "$sev" 'j["return"]["api-major"]')" \
        "$(field "$sev" 'j["return"]["api-minor"]')" "$(field "$sev" 'j["return"]["build-id"]')" \
        "$ovmf" $verify_extra || fail "the owner does not accept QEMU's launch measurement ($name)"
    hdr=$(cat "$dir/secret-header.b64")
    secret=$(cat "$dir/secret.b64")
    # A tampered secret: one bit of the header's MAC flipped.
    bad_hdr=$(python3 -c 'import base64,sys; b=bytearray(base64.b64decode(sys.argv[1])); b[40]^=1; print(base64.b64encode(b).decode())' "$hdr")
    inject() { # inject HEADER: sev-inject-launch-secret (OVMF's secret area, or a RAM gpa)
        local a
        a=$(q "$name" sev-inject-launch-secret "{\"packet-header\": \"$1\", \"secret\": \"$secret\"}")
        case "$a" in
        *"no secret area"*)
            a=$(q "$name" sev-inject-launch-secret "{\"packet-header\": \"$1\", \"secret\": \"$secret\", \"gpa\": 1048576}")
            ;;
        esac
        echo "$a"
    }
    ans=$(inject "$bad_hdr")
    case "$ans" in
    *'"error"'*fw_error=*) ;;
    *) fail "a tampered secret was not refused with a firmware status: $ans" ;;
    esac
    code=$(printf '%s' "$ans" | sed -n 's/.*fw_error=\([0-9]*\).*/\1/p')
    [ "$(owner fw-name "$code")" = BAD_MEASUREMENT ] ||
        fail "the tampered secret's firmware status $code is $(owner fw-name "$code"), not BAD_MEASUREMENT (MAC check)"
    echo "qemu-sev: ok: [$name] tampered secret refused: $ans"
    ans=$(inject "$hdr")
    [ "$(field "$ans" '"return" in j')" = True ] || fail "sev-inject-launch-secret: $ans"
    q "$name" cont >/dev/null || fail cont
    state_now=
    for _ in $(seq 1 50); do
        sev=$(q "$name" query-sev) || fail "query-sev after cont: $sev"
        state_now=$(field "$sev" 'j["return"]["state"]')
        [ "$state_now" = running ] && break
        sleep 0.1
    done
    [ "$state_now" = running ] || fail "query-sev after cont: $sev"
    # The guest cannot run: its memory is the model's ciphertext, which this CPU executes as
    # is (KVM reports an emulation failure at once). The launch is what is under test; stop.
    q "$name" query-status >/dev/null
    q "$name" quit >/dev/null || fail quit
    wait "$qemu_pid"
    local rc=$?
    qemu_pid=
    [ "$rc" -eq 0 ] || fail "QEMU ($name) exited with $rc after quit: $(cat "$out/$name.log")"
    unset QMP_TRANSCRIPT
    echo "qemu-sev: ok: [$name] measurement verified, secret injected, query-sev running, QEMU quit cleanly"
}
launch sev "$policy" ""
# SEV-ES: KVM_SEV_ES_INIT; each vCPU's VMSA is built from the real KVM vCPU's registers at
# LAUNCH_UPDATE_VMSA; the owner computes them from QEMU's reset state for the CPU model.
launch sev-es 0x5 "2 EPYC-Milan" -cpu EPYC-Milan -smp 2

# --- 4. a tampered session file
tam=$out/tampered
cp "$files/sev/godh.b64" "$tam/godh.b64"
python3 -c 'import base64,sys; b=bytearray(base64.b64decode(open(sys.argv[1]).read())); b[100]^=1; open(sys.argv[2],"w").write(base64.b64encode(b).decode())' \
    "$files/sev/session.b64" "$tam/session.b64"
expect=$(owner launch-start "$tam" "$policy") || fail "owner launch-start"
code=$(printf '%s' "$expect" | sed -n 's/^fw_error=\([0-9]*\).*/\1/p')
[ -n "$code" ] && [ "$code" != 0 ] || fail "libsev's own LAUNCH_START accepted the tampered session: $expect"
env LD_PRELOAD="$preload" timeout 120 "$qemu" -accel kvm -nographic -nodefaults -S -m 256 \
    -machine q35,memory-encryption=sev0 \
    -object "sev-guest,id=sev0,cbitpos=0,reduced-phys-bits=1,policy=$policy,dh-cert-file=$tam/godh.b64,session-file=$tam/session.b64" \
    -drive "if=pflash,format=raw,unit=0,file=$ovmf,readonly=on" >"$out/tampered.log" 2>&1 </dev/null
rc=$?
[ "$rc" -ne 0 ] || fail "QEMU started with a tampered session file"
grep -q "LAUNCH_START.*fw_error=$code\b" "$out/tampered.log" ||
    fail "QEMU did not report LAUNCH_START fw_error=$code ($expect): $(cat "$out/tampered.log")"
echo "qemu-sev: ok: tampered session refused (libsev: $expect): $(grep LAUNCH_START "$out/tampered.log")"

echo "qemu-sev: QMP transcript of the launch ($transcript):"
sed 's/^/    /' "$transcript"
echo "qemu-sev: PASS"
