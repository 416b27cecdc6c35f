//! Legacy SEV certificates: the SEV format (PDH, PEK, OCA, CEK: [`cert`]), AMD's format (ASK,
//! ARK: [`amd`]), chain verification ([`chain`]), AMD's pinned roots ([`roots`]) and the
//! test-only root the firmware model chains to ([`test_root`]).

pub mod amd;
pub mod cert;
pub mod chain;
pub mod roots;

pub use cert::*;

/// libsev's test-only AMD root for legacy SEV: ARK and ASK certificates (RSA-4096, AMD's format)
/// and the ASK's private key, generated once by `testroot/gen.rs`. TEST ONLY: the private key
/// is public, so anything signed by this root proves nothing. The firmware model chains its
/// CEKs to it; the guest-owner side reports it as the test root and rejects it unless the
/// caller explicitly allows it.
pub mod test_root {
    /// The test ARK (self-signed).
    pub const ARK_CERT: &[u8] = include_bytes!("testroot/ark.cert");
    /// The test ASK (signed by the test ARK).
    pub const ASK_CERT: &[u8] = include_bytes!("testroot/ask.cert");
    /// The test ASK's private key (PKCS#8 DER). TEST ONLY.
    pub const ASK_KEY_PKCS8: &[u8] = include_bytes!("testroot/ask-key.pk8");
}
