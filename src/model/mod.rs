//! The built-in model of the SEV firmware (AMD Secure Processor), in process, behind the same
//! transport seam as the kernel. (Being implemented: see the firmware-model issue.)

use std::path::PathBuf;

/// The model's test-only AMD root: ARK and ASK certificates (RSA-4096, AMD's format) and the
/// ASK's private key, generated once by `testroot/gen.rs`. TEST ONLY: the private
/// key is public, so anything signed by this root proves nothing. The guest-owner side
/// reports this root as the test root and rejects it unless the caller explicitly allows it.
pub mod test_root {
    /// The emulated ARK (self-signed).
    pub const ARK_CERT: &[u8] = include_bytes!("testroot/ark.cert");
    /// The emulated ASK (signed by the emulated ARK).
    pub const ASK_CERT: &[u8] = include_bytes!("testroot/ask.cert");
    /// The emulated ASK's private key (PKCS#8 DER). TEST ONLY.
    pub const ASK_KEY_PKCS8: &[u8] = include_bytes!("testroot/ask-key.pk8");
}

/// How to build a model platform.
#[derive(Debug, Clone)]
pub struct ModelConfig {
    /// Keep the platform identity (CEK seed, OCA, PEK, PDH, ownership) in this directory
    /// across processes; `None` = ephemeral.
    pub state_dir: Option<PathBuf>,
    /// Deterministic seed for reproducible tests (chip identity and all randomness);
    /// `None` = the OS random generator.
    pub seed: Option<[u8; 32]>,
    /// Firmware API version and build reported by PLATFORM_STATUS and used in measurements.
    pub api_major: u8,
    pub api_minor: u8,
    pub build: u8,
    /// Number of SEV ASIDs (guests that can be active at once); running out gives
    /// RESOURCE_LIMIT.
    pub asids: u32,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            state_dir: None,
            seed: None,
            api_major: 1,
            api_minor: 55,
            build: 25,
            asids: 509,
        }
    }
}
