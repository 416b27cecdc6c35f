//! Certificates: the SEV certificate format (OCA, PEK, PDH, CEK, GODH) and AMD's ARK/ASK
//! format, their cryptography, and chain verification.
//!
//! Both the firmware model and the guest-owner side use this module, but only for formats and
//! signatures; neither uses the other's session, wrap or MAC code.

pub mod sev;
pub mod snp;

pub use sev::amd::AmdCert;
pub use sev::{Algo, SevCert, Usage, amd, chain, roots};

use crate::status::Status;

/// Why a certificate or a signature was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    /// The bytes are not a well-formed certificate of this kind.
    #[error("malformed certificate: {0}")]
    Malformed(String),
    /// No signature slot carries a signature of the given signer.
    #[error("no signature slot is signed by the {0}")]
    NoSignatureBy(String),
    /// A signature slot that should carry the signer's signature does not verify.
    #[error("signature by the {0} does not verify")]
    BadSignature(String),
    /// The key is not usable (point not on the curve, unsupported size).
    #[error("bad key: {0}")]
    BadKey(String),
}

impl CertError {
    /// The libsev status for this error.
    pub fn status(&self) -> Status {
        match self {
            CertError::Malformed(_) | CertError::BadKey(_) => Status::LIBSEV_STATUS_BAD_CERTIFICATE,
            CertError::NoSignatureBy(_) => Status::LIBSEV_STATUS_CHAIN_BROKEN,
            CertError::BadSignature(_) => Status::LIBSEV_STATUS_BAD_SIGNATURE,
        }
    }
}

/// Reverse a little-endian integer field into big-endian bytes of `len` (dropping the zero
/// padding), checking that the padding is zero.
pub(crate) fn le_to_be(field: &[u8], len: usize) -> Option<Vec<u8>> {
    if field.len() < len || field[len..].iter().any(|b| *b != 0) {
        return None;
    }
    Some(field[..len].iter().rev().copied().collect())
}

/// Write big-endian `be` as a little-endian field, zero-padded to `field.len()`.
pub(crate) fn be_to_le(be: &[u8], field: &mut [u8]) {
    field.fill(0);
    for (i, b) in be.iter().rev().enumerate() {
        field[i] = *b;
    }
}
