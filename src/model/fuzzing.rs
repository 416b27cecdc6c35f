//! Entry points for the parse-only fuzz targets (`src/fuzz`): the model's parsers of
//! untrusted bytes without the public-key operations in front of them, so a fuzzer spends
//! its time in the parsers. Not part of the API (hidden from the documentation).

use super::firmware::sev::channel::{Channel, seal, session_keys, unseal};
use std::path::Path;

/// Decode a state file: `raw` as is, and `payload` framed with a correct header and
/// checksum (so the records behind the checksum are reached). Returns whether each parsed;
/// a file that parses must re-encode to the same bytes.
pub fn state_file(raw: &[u8], payload: &[u8]) -> (bool, bool) {
    let a = super::firmware::store::decode(Path::new("fuzz"), raw).is_ok();
    let mut framed = b"LIBSEVMS".to_vec();
    framed.extend_from_slice(&1u32.to_le_bytes());
    framed.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    framed.extend_from_slice(payload);
    let sum = <sha2::Sha256 as sha2::Digest>::digest(&framed);
    framed.extend_from_slice(&sum);
    let b = match super::firmware::store::decode(Path::new("fuzz"), &framed) {
        Ok(p) => {
            let again = super::firmware::store::encode(&p.chip_seed, &p.ident);
            let q = super::firmware::store::decode(Path::new("fuzz"), &again)
                .expect("re-encoded parses");
            assert_eq!(q.ident.external, p.ident.external);
            true
        }
        Err(_) => false,
    };
    (a, b)
}

/// A session blob under fixed session keys (no ECDH): `blob` as given must be refused unless
/// it carries both MACs; a blob sealed from `tek ‖ tik` and `policy`, then changed at `flip`
/// (if any), must unseal to the same keys exactly when nothing was changed.
pub fn session_blob(blob: &[u8], tk: &[u8; 32], policy: u32, flip: Option<(usize, u8)>) -> bool {
    let keys = session_keys(&[0x5a; 48], &[7; 16]);
    let _ = unseal(&keys, blob, policy);
    let ch = Channel {
        tek: tk[..16].try_into().expect("16 bytes"),
        tik: tk[16..].try_into().expect("16 bytes"),
        measure: None,
    };
    let mut sealed = seal(&keys, &ch, &[7; 16], &[9; 16], policy);
    let changed = match flip {
        Some((at, x)) if x != 0 => {
            sealed[at % sealed.len()] ^= x;
            // The nonce is not covered by the blob's MACs (it feeds the key derivation).
            at % sealed.len() >= 16
        }
        _ => false,
    };
    match unseal(&keys, &sealed, policy) {
        Ok(got) => {
            assert!(!changed, "a changed session blob was accepted");
            assert!(got.tek == ch.tek && got.tik == ch.tik);
            true
        }
        Err(_) => {
            assert!(changed, "a sealed session blob was refused");
            false
        }
    }
}
