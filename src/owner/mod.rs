//! The guest owner's side: launch session, expected measurement, secret packaging and
//! attestation-report verification. Certificate chains are in [`crate::certs::chain`].
//!
//! A typical launch, from the owner's point of view:
//!
//! 1. verify the platform's chain ([`crate::certs::chain::Chain::verified`]);
//! 2. [`Session::for_chain`] with the guest policy; send [`Session::godh`] and
//!    [`Session::blob`] to the hypervisor for LAUNCH_START;
//! 3. [`Session::measure_update`] with the same bytes, in the same order, that the hypervisor
//!    passes to LAUNCH_UPDATE_DATA (or [`Session::set_launch_digest`]);
//! 4. [`Session::verify_measurement`] with LAUNCH_MEASURE's 48 bytes and the firmware version;
//! 5. [`Session::package_secret`] and send header and ciphertext for LAUNCH_SECRET.
//!
//! This module has its own implementation of the KDF, ECDH, wrap, MACs and measurement
//! ([`crypto`]); it shares nothing with the firmware model but the certificate formats.

pub mod es;
pub mod sev;
pub mod snp;

pub use sev::{attestation, crypto, measurement, secret, session, state};

pub use attestation::{AttestationReport, verify_report};
pub use measurement::{FirmwareVersion, LaunchDigest, Measurement, VerifyError};
pub use secret::{LaunchSecret, SecretOptions};
pub use session::Session;

#[cfg(test)]
pub(crate) mod testutil {
    use std::collections::HashMap;

    /// `key=value` lines of a file in the shared KAT directory (comments skipped).
    pub fn kat(name: &str) -> HashMap<String, String> {
        let path = format!(
            "{}/../shared/testdata/sev/kat/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect()
    }

    pub fn unhex(s: &str) -> Vec<u8> {
        assert!(s.len() % 2 == 0, "odd hex length");
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
            .collect()
    }

    /// Standard-alphabet base64 (padding optional), for the published vectors.
    pub fn b64(s: &str) -> Vec<u8> {
        let val = |c: u8| -> u32 {
            match c {
                b'A'..=b'Z' => (c - b'A') as u32,
                b'a'..=b'z' => (c - b'a' + 26) as u32,
                b'0'..=b'9' => (c - b'0' + 52) as u32,
                b'+' => 62,
                b'/' => 63,
                _ => panic!("bad base64 character {c:#x}"),
            }
        };
        let s: Vec<u8> = s.bytes().filter(|c| *c != b'=').collect();
        let mut out = Vec::new();
        for chunk in s.chunks(4) {
            let mut n = 0u32;
            for (i, c) in chunk.iter().enumerate() {
                n |= val(*c) << (18 - 6 * i);
            }
            for i in 0..chunk.len() - 1 {
                out.push((n >> (16 - 8 * i)) as u8);
            }
        }
        out
    }
}
