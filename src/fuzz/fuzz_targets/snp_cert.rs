//! SEV-SNP X.509 certificate parsing (ARK/ASK/VCEK/VLEK, DER or PEM) with arbitrary bytes.
//! Parsing only: signatures are not checked on every input (RSA-4096 would dominate).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sev::certs::snp::SnpCert;

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = SnpCert::from_der(data) {
        // A parsed certificate's signed bytes lie inside it and its DER is what was given.
        assert_eq!(c.as_der(), data);
        assert!(c.tbs_bytes().len() < data.len());
        let _ = c.fingerprint();
        let again = SnpCert::from_der(c.as_der()).expect("a parsed certificate parses again");
        assert_eq!(again.amd, c.amd);
        assert_eq!(again.subject_cn, c.subject_cn);
    }
    if let Ok(all) = SnpCert::from_pem_all(data) {
        assert!(!all.is_empty());
    }
    let _ = SnpCert::from_der_or_pem(data);
});
