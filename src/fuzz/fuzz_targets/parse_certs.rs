//! Certificate parsers only (no signature is checked): SEV certificates with their key
//! checks for every usage, AMD certificates alone and as ASK ‖ ARK.
//! First byte: bits 0-2 select the entry point.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sev::certs::chain::AmdPair;
use sev::certs::{AmdCert, SevCert, Usage};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    match sel & 7 {
        0 | 1 => {
            // A SEV certificate: the input padded or cut to 0x824 bytes.
            let mut b = [0u8; 0x824];
            let n = rest.len().min(b.len());
            b[..n].copy_from_slice(&rest[..n]);
            if let Ok(c) = SevCert::from_bytes(&b) {
                assert_eq!(c.as_bytes()[..], b[..], "a parsed certificate keeps its bytes");
                for u in [Usage::OCA, Usage::PEK, Usage::PDH, Usage::CEK] {
                    let _ = c.check_body(u);
                }
                let _ = c.public_key();
                for slot in 0..2 {
                    let _ = (c.sig_slot(slot), c.slot_is_empty(slot), c.sig_bytes(slot));
                }
            }
            let _ = SevCert::from_bytes(rest);
        }
        2 => {
            let _ = AmdCert::from_bytes(rest);
        }
        3 => {
            for bits in [None, Some(2048), Some(4096)] {
                if let Ok((_, used)) = AmdCert::parse_prefix(rest, bits) {
                    assert!(used <= rest.len());
                }
            }
        }
        4 => {
            let _ = AmdCert::parse_ask_ark(rest);
        }
        _ => {
            let _ = AmdPair::parse(rest);
        }
    }
});
