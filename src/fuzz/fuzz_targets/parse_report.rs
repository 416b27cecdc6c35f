//! The attestation-report parser without the PEK signature check (length, signer, signature
//! encoding, fields); the verifying entry point shares it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((r, _sig_ok)) = sev::owner::attestation::parse_report_unverified(data) {
        assert_eq!(data.len(), sev::owner::attestation::REPORT_LEN);
        assert_eq!(r.mnonce[..], data[..16]);
    }
});
