//! The legacy attestation report (ATTESTATION, `sev-spec` §4.10): 208 bytes, signed by the
//! platform's PEK (ECDSA P-384 with SHA-256 over bytes 0x00–0x33).

use crate::certs::chain::VerifiedChain;
use crate::certs::le_to_be;
use crate::certs::sev::{Algo, Usage};
use crate::error::{Error, Result};
use crate::status::Status;
use p384::ecdsa::signature::hazmat::PrehashVerifier;
use p384::ecdsa::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};

/// Size of the report.
pub const REPORT_LEN: usize = 0xD0;
const SIGNED: usize = 0x34;

/// The verified contents of an attestation report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttestationReport {
    /// The MNONCE the caller supplied to the ATTESTATION command.
    pub mnonce: [u8; 16],
    /// The launch digest saved at LAUNCH_MEASURE.
    pub launch_digest: [u8; 32],
    /// The guest policy.
    pub policy: u32,
}

fn rd32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().expect("4 bytes"))
}

/// Verify a report with the PEK of a verified chain.
pub fn verify_report(report: &[u8], chain: &VerifiedChain) -> Result<AttestationReport> {
    verify_report_with_key(report, &chain.pek_key)
}

/// Verify a report with a PEK public key. The caller must have verified the PEK's chain
/// (prefer [`verify_report`]).
pub fn verify_report_with_key(report: &[u8], pek: &p384::PublicKey) -> Result<AttestationReport> {
    if report.len() != REPORT_LEN {
        return Err(Error::new(
            Status::LIBSEV_STATUS_INVALID_LENGTH,
            format!(
                "attestation report is {} bytes, expected {REPORT_LEN}",
                report.len()
            ),
        ));
    }
    let (usage, algo) = (rd32(report, 0x34), rd32(report, 0x38));
    if usage != Usage::PEK || algo != Algo::ECDSA_SHA256 {
        return Err(Error::new(
            Status::LIBSEV_STATUS_BAD_SIGNATURE,
            format!(
                "attestation report signed with usage {usage:#x} / algorithm {algo:#x}; \
                 expected the PEK ({:#x}) with ECDSA-SHA256 ({:#x})",
                Usage::PEK,
                Algo::ECDSA_SHA256
            ),
        ));
    }
    let sig = le_to_be(&report[0x40..0x88], 48)
        .zip(le_to_be(&report[0x88..0xD0], 48))
        .and_then(|(r, s)| {
            Signature::from_scalars(
                *p384::FieldBytes::from_slice(&r),
                *p384::FieldBytes::from_slice(&s),
            )
            .ok()
        });
    let digest = Sha256::digest(&report[..SIGNED]);
    let ok = sig.is_some_and(|sig| {
        VerifyingKey::from(pek)
            .verify_prehash(&digest, &sig)
            .is_ok()
    });
    if !ok {
        return Err(Error::new(
            Status::LIBSEV_STATUS_BAD_SIGNATURE,
            "attestation report: the PEK's signature does not verify",
        ));
    }
    Ok(AttestationReport {
        mnonce: report[0..16].try_into().expect("16 bytes"),
        launch_digest: report[0x10..0x30].try_into().expect("32 bytes"),
        policy: rd32(report, 0x30),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certs::be_to_le;
    use p384::ecdsa::SigningKey;
    use p384::ecdsa::signature::hazmat::PrehashSigner;

    fn signed_report(key: &SigningKey) -> Vec<u8> {
        let mut r = vec![0u8; REPORT_LEN];
        r[..16].copy_from_slice(&[0xA5; 16]);
        r[0x10..0x30].copy_from_slice(&[0x3C; 32]);
        r[0x30..0x34].copy_from_slice(&0x0001_0003u32.to_le_bytes());
        r[0x34..0x38].copy_from_slice(&Usage::PEK.to_le_bytes());
        r[0x38..0x3C].copy_from_slice(&Algo::ECDSA_SHA256.to_le_bytes());
        let sig: Signature = key.sign_prehash(&Sha256::digest(&r[..SIGNED])).unwrap();
        be_to_le(&sig.r().to_bytes(), &mut r[0x40..0x88]);
        be_to_le(&sig.s().to_bytes(), &mut r[0x88..0xD0]);
        r
    }

    #[test]
    fn report_verifies_and_every_signed_byte_matters() {
        let k = SigningKey::random(&mut rand_core::OsRng);
        let pek = p384::PublicKey::from(k.verifying_key());
        let r = signed_report(&k);
        let a = verify_report_with_key(&r, &pek).unwrap();
        assert_eq!(a.mnonce, [0xA5; 16]);
        assert_eq!(a.launch_digest, [0x3C; 32]);
        assert_eq!(a.policy, 0x0001_0003);
        for off in [
            0, 15, 16, 0x2F, 0x30, 0x33, 0x34, 0x38, 0x40, 0x87, 0x88, 0xCF,
        ] {
            let mut b = r.clone();
            b[off] ^= 1;
            assert!(verify_report_with_key(&b, &pek).is_err(), "offset {off:#x}");
        }
        let other =
            p384::PublicKey::from(SigningKey::random(&mut rand_core::OsRng).verifying_key());
        assert_eq!(
            verify_report_with_key(&r, &other).unwrap_err().status,
            Status::LIBSEV_STATUS_BAD_SIGNATURE
        );
        assert_eq!(
            verify_report_with_key(&r[..100], &pek).unwrap_err().status,
            Status::LIBSEV_STATUS_INVALID_LENGTH
        );
    }
}
