#!/usr/bin/env bash
# Write seed corpora for the fuzz targets into OUT/<target>/, built at run time from the real
# SEV test data (certificates and chains of real EPYC machines, AMD's roots). Nothing of that
# data is kept in the repository.
#
#   bash src/fuzz/seeds.sh TESTDATA_DIR OUT_DIR
set -euo pipefail
td=${1:?testdata directory}
out=${2:?output directory}
[ -d "$td/rome" ] || { echo "seeds.sh: no SEV test data in $td" >&2; exit 1; }

hex() { printf "\\x$(printf %02x "$1")"; }
le16() { hex $(($1 & 255)); hex $(($1 >> 8 & 255)); }
le32() { le16 $(($1 & 65535)); le16 $(($1 >> 16 & 65535)); }
seed() { mkdir -p "$out/$1"; cat > "$out/$1/seed-$2"; }

for gen in naples rome; do
    d=$td/$gen
    amd="$td/builtin/$gen/ask.cert $td/builtin/$gen/ark.cert"
    amd_len=$(cat $amd | wc -c)
    # chain: selector byte, then the bytes of the chosen entry point.
    { hex 0; cat "$d/chain.bin"; } | seed chain "$gen-full"
    { hex 128; cat "$d/chain.bin"; } | seed chain "$gen-full-test-root-allowed"
    { hex 1; cat "$d/sev-chain.bin" $amd; } | seed chain "$gen-sev-chain"
    for c in pdh pek oca cek; do { hex 2; cat "$d/$c.cert"; } | seed chain "$gen-$c"; done
    { hex 3; cat "$td/builtin/$gen/ark.cert"; } | seed chain "$gen-ark"
    { hex 3; cat $amd; } | seed chain "$gen-ask-ark-prefix"
    { hex 4; cat $amd; } | seed chain "$gen-amd-pair"
    { hex 5; cat "$d/cek.cert" "$d/chain.bin"; } | seed chain "$gen-with-cek"

    # launch_start: policy ‖ flags ‖ share ‖ godh_len ‖ session_len ‖ offset ‖ rest.
    { le32 0; hex 0; hex 0; le16 2084; hex 128; le16 0; cat "$d/pdh.cert"; head -c 128 "$d/cek.cert"; } \
        | seed launch_start "$gen-raw-pdh-as-godh"

    # ffi_lengths: op ‖ nulls ‖ 4 × len ‖ policy ‖ rest.
    { hex 0; hex 0; le16 2084; le16 6252; le16 2084; le16 "$amd_len"; le32 0;
      cat "$d/sev-chain.bin" "$d/cek.cert" $amd; } | seed ffi_lengths "$gen-chain-verify"
    { hex 1; hex 0; le16 "$(wc -c < "$d/chain.bin")"; le16 0; le16 0; le16 0; le32 0;
      cat "$d/chain.bin"; } | seed ffi_lengths "$gen-chain-blob"
    { hex 2; hex 0; le16 2084; le16 2084; le16 128; le16 1024; le32 0; cat "$d/pdh.cert"; } \
        | seed ffi_lengths "$gen-owner-session"
    { hex 4; hex 0; le16 208; le16 2084; le16 0; le16 0; le32 0;
      head -c 208 "$d/oca.cert"; cat "$d/pek.cert"; } | seed ffi_lengths "$gen-attestation"
    { hex 7; hex 0; le16 2084; le16 128; le16 52; le16 16; le32 0;
      cat "$d/pdh.cert"; head -c 196 "$d/cek.cert"; } | seed ffi_lengths "$gen-guest-raw-session"
done

# Real sessions and packets made inside the targets (flag bit 0), unmutated and mutated.
for p in 0 1 2 8 64 65536 16777216 4294967295; do
    { le32 $p; hex 1; hex 0; le16 0; hex 0; le16 0; } | seed launch_start "owner-session-policy-$p"
done
{ le32 0; hex 9; hex 0; le16 0; hex 0; le16 2100; hex 1; } | seed launch_start "owner-session-flip-blob"
{ le32 0; hex 8; hex 1; le16 0; hex 0; le16 0; } | seed launch_start "share-noks"
{ le32 0; hex 6; hex 0; le16 0; hex 0; le16 0; } | seed launch_start "no-session"

for n in 1 2 64; do
    { hex 3; le16 0; le16 0; hex $n; le16 0; head -c $((16 * n)) /dev/zero; } \
        | seed launch_secret "valid-$n-blocks"
done
{ hex 3; le16 8; le16 0; hex 1; le16 0; head -c 16 /dev/zero; } | seed launch_secret "misaligned"
{ hex 1; le16 0; le16 32; hex 1; le16 60; head -c 16 /dev/zero; hex 1; } | seed launch_secret "flip"
{ hex 2; le16 0; le16 0; hex 52; le16 0; head -c 68 "$td/rome/pdh.cert"; } | seed launch_secret "raw"

for f in 3 7; do
    { hex $f; le16 0; le16 0; hex 0; le16 0; } | seed receive_update "valid-$f"
    { hex $f; le16 16; le16 0; hex 0; le16 70; hex 4; } | seed receive_update "flip-$f"
done
{ hex 2; le16 0; le16 0; hex 52; le16 0; head -c 68 "$td/rome/pdh.cert"; } | seed receive_update "raw"

{ hex 5; hex 0; le16 2084; le16 6252; le16 64; le16 2084; le32 0; } | seed ffi_lengths "platform-exports"
{ hex 5; hex 0; le16 100; le16 6000; le16 63; le16 1; le32 0; } | seed ffi_lengths "platform-short"
{ hex 7; hex 0; le16 0; le16 0; le16 52; le16 16; le32 0; } | seed ffi_lengths "guest-no-session"
# dbg: flags ‖ src_off ‖ dst_off ‖ len ‖ data.
for f in 0 1 2 3; do
    { hex $f; le16 0; le16 0; le16 4096; } | seed dbg "aligned-page-$f"
    { hex $f; le16 0; le16 8; le16 4096; } | seed dbg "page-to-unaligned-$f"
    { hex $f; le16 4000; le16 4100; le16 200; } | seed dbg "across-pages-$f"
    { hex $f; le16 3; le16 5; le16 40; head -c 40 "$td/rome/pdh.cert"; } | seed dbg "small-$f"
done
# SEV-SNP: the real certificates beside the SEV data (../snp), a zero report of each version.
snp=$td/../snp
if [ -d "$snp/builtin" ]; then
    for gen in milan genoa turin; do
        for c in ark ask; do
            seed snp_cert "$gen-$c-pem" < "$snp/builtin/$gen/$c.pem"
            openssl x509 -in "$snp/builtin/$gen/$c.pem" -outform der 2>/dev/null \
                | seed snp_cert "$gen-$c-der" || true
        done
    done
    seed snp_cert "turin-vcek" < "$snp/turin/vcek.der"
    seed snp_cert "turin-ask-ark-pem" < "$snp/turin/ask_ark.pem"
    # A certificate table holding the Turin VCEK: one entry, the terminator, the DER.
    vlen=$(wc -c < "$snp/turin/vcek.der")
    { hex 1; printf '\x63\xda\x75\x8d\xe6\x64\x45\x64\xad\xc5\xf4\xb9\x3b\xe8\xac\xcd';
      le32 48; le32 "$vlen"; head -c 24 /dev/zero; cat "$snp/turin/vcek.der"; } \
        | seed snp_report "cert-table-vcek"
fi
for v in 2 3 5; do
    { hex 0; le32 $v; head -c 48 /dev/zero; le32 1; head -c 1128 /dev/zero; } \
        | seed snp_report "report-v$v"
done
echo "seeds: $(find "$out" -type f | wc -l) files in $out"
