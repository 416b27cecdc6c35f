//! SEV and AMD certificate parsing and chain verification with arbitrary bytes.
//! First byte: bits 0-2 select the entry point, bit 7 allows the test root.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sev::certs::chain::{AmdPair, Chain, VerifyOptions};
use sev::certs::{AmdCert, SevCert};

const SEV: usize = 2084;

fn verify(c: &Chain, options: VerifyOptions) {
    let r = c.verify(options);
    let ok = r.check().is_ok();
    assert_eq!(ok, c.verified(options).is_ok(), "check and verified agree");
    if ok {
        assert!(r.failed_link().is_none());
    }
    let again = Chain::from_full(&c.to_bytes());
    assert!(again.is_ok(), "a parsed chain serialises to a parsable one");
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let options = VerifyOptions {
        allow_test_root: sel & 0x80 != 0,
        ..VerifyOptions::default()
    };
    match sel & 7 {
        0 => {
            if let Ok(c) = Chain::from_full(rest) {
                verify(&c, options);
            }
        }
        1 => {
            let (sev_part, amd) = rest.split_at(rest.len().min(4 * SEV));
            if let Ok(c) = Chain::from_sev_chain(sev_part, amd) {
                verify(&c, options);
            }
        }
        2 => {
            if let Ok(c) = SevCert::from_bytes(rest) {
                let _ = c.public_key();
                let _ = c.check_body(c.usage());
                for slot in 0..2 {
                    let _ = (c.sig_slot(slot), c.sig_bytes(slot), c.slot_is_empty(slot));
                }
                if rest.len() == SEV {
                    assert_eq!(&c.as_bytes()[..], rest, "round trip");
                }
            }
        }
        3 => {
            let _ = AmdCert::from_bytes(rest);
            let _ = AmdCert::parse_prefix(rest, None);
            let _ = AmdCert::parse_ask_ark(rest);
        }
        4 => {
            if let Ok(p) = AmdPair::parse(rest) {
                assert_eq!(p.as_bytes(), rest);
            }
        }
        _ => {
            // A good chain layout with one replaced certificate: PDH ‖ PEK ‖ OCA ‖ CEK ‖ AMD,
            // then `with_cek` with the first 2084 bytes.
            let (cek, full) = rest.split_at(rest.len().min(SEV));
            if let Ok(c) = Chain::from_full(full).and_then(|c| c.with_cek(cek)) {
                verify(&c, options);
            }
        }
    }
});
