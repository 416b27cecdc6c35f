//! The guest owner's exported-state parser (`Session::import_state`): arbitrary bytes, and a
//! real export changed by the input with its checksum recomputed (reaching the fields behind
//! the checksum). A state that imports must export to the same bytes.
//! First byte: bit 0 = raw input, else XOR the rest into a real export at offset 0.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sev::owner::Session;
use sha2::{Digest, Sha256};

thread_local! {
    static TEMPLATE: Vec<u8> = {
        let p = sev::api::Platform::emulated(sev::model::ModelConfig {
            seed: Some([3; 32]),
            ..Default::default()
        })
        .unwrap();
        let (pdh, _) = p.pdh_cert_export().unwrap();
        let s = Session::new(&sev::certs::SevCert::from_bytes(&pdh).unwrap(), 0).unwrap();
        s.export_state().to_vec()
    };
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let b = if sel & 1 == 1 {
        rest.to_vec()
    } else {
        let mut b = TEMPLATE.with(|t| t.clone());
        let body = b.len() - 32;
        for (x, y) in b[..body].iter_mut().zip(rest) {
            *x ^= y;
        }
        let sum = Sha256::digest(&b[..body]);
        b[body..].copy_from_slice(&sum);
        b
    };
    if let Ok(s) = Session::import_state(&b) {
        assert_eq!(s.export_state()[..], b[..], "import/export round trip");
    }
});
