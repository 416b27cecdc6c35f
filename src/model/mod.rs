//! The built-in model of the SEV firmware (AMD Secure Processor), in process, behind the same
//! transport seam as the kernel.
//!
//! [`open`] gives a [`ModelPlatform`] (the `/dev/sev` side: the PSP driver's ioctls and the
//! firmware's platform commands); `create_vm` / `attach_vm` (the
//! [`crate::transport::PlatformTransport`] methods) give a [`ModelVm`] that plays KVM's part of
//! `KVM_MEMORY_ENCRYPT_OP` and the firmware's guest commands. Both read and write the very
//! same uaddr-bearing kernel structs as the kernel, fail with the kernel's errnos where KVM or
//! the PSP driver refuse first, and otherwise with `EIO` and the firmware's status, checked in
//! the firmware's order (`sev-spec` §2.7).
//!
//! The model holds real keys and does the real cryptography of `sev-spec` §4: a CEK derived
//! from the chip seed, OCA/PEK/PDH with their certificates, ECDH + KDF sessions, the launch
//! digest and measurement, secret and migration packets, PEK-signed attestation reports. Its
//! AMD root is [`crate::certs::sev::test_root`] (test only). Choices where the hardware cannot be reproduced or
//! the sources leave room:
//!
//! * Guest memory is encrypted in place with AES-128 in XTS style, the tweak being the host
//!   virtual address of each page (`memcrypt.rs`); "physical" addresses are host virtual
//!   addresses and every range counts as physically contiguous.
//! * Guest slots are `min(asids, 1024)`; the ASID is bound at LAUNCH_START / RECEIVE_START
//!   (KVM binds it at `KVM_SEV_INIT`), so running out is the firmware's RESOURCE_LIMIT at
//!   LAUNCH_START / RECEIVE_START, not KVM's `EBUSY` at INIT. ASIDs of destroyed VMs are
//!   reused after a DF_FLUSH, as KVM recycles them.
//! * A model VM learns of its vCPUs through [`ModelVm::add_vcpu_fd`] (a real KVM vCPU, its
//!   registers read at LAUNCH_UPDATE_VMSA) or [`ModelVm::add_vcpu_state`]; LAUNCH_UPDATE_VMSA
//!   builds each VMSA as KVM does, measures and encrypts it (`kernel/vm_es.rs`, `firmware/es`).
//! * SEV-ES guests get ASIDs below `min_sev_asid` and SEV guests from it up, as KVM
//!   allocates them and the firmware's ACTIVATE checks them: the model has `asids` of each,
//!   SEV-ES ASIDs `1..=asids`, SEV ASIDs `asids+1..=2*asids`. `create_vm` /
//!   `attach_vm` make an untyped VM that accepts `KVM_SEV_INIT`, `KVM_SEV_ES_INIT` and
//!   `KVM_SEV_INIT2` (plain SEV); [`ModelPlatform::create_vm_of_type`] makes a typed one.
//! * The PSP driver initialises the platform with CONFIG.ES, as on SEV-ES capable parts.
//! * Where the kernel copies a zeroed bounce buffer to the caller even after a firmware
//!   failure (PEK_CSR, PDH_CERT_EXPORT, GET_ID2 with a short buffer), the model writes only
//!   the length fields. KVM's unaligned DBG_ENCRYPT read-modify-write is reproduced as is,
//!   including its `round_up(size, 16)` span.
//! * Randomness: the OS generator, or with [`ModelConfig::seed`] a ChaCha20 stream (chip
//!   identity, keys, nonces and MNONCEs reproducible). With a state directory, a saved chip
//!   seed wins over the configured seed.

mod firmware;
mod kernel;
mod mem;

/// A firmware command's outcome: `Err` carries the firmware status (`sev-spec` §2.2).
pub(crate) type FwResult<T> = std::result::Result<T, u32>;

/// SEV-SNP: the firmware's SNP half, KVM's SNP VM, the launch digest.
pub use firmware::snp;
pub use kernel::platform::ModelPlatform;
pub use kernel::vm::ModelVm;

use crate::error::{Error, Result};
use crate::status::Status;
use std::path::PathBuf;
use std::sync::Arc;

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
    /// RESOURCE_LIMIT. The model has as many SEV-ES ASIDs again, below them.
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

impl ModelConfig {
    /// Parse the model part of a platform spec: `"emulated"` (ephemeral identity) or
    /// `"emulated:DIR"` (identity kept in `DIR`). Anything else is a
    /// `LIBSEV_STATUS_MODEL_CONFIG` error.
    pub fn parse_env_spec(s: &str) -> Result<ModelConfig> {
        let s = s.trim();
        if s == "emulated" {
            return Ok(ModelConfig::default());
        }
        if let Some(dir) = s.strip_prefix("emulated:") {
            if dir.is_empty() {
                return Err(Error::new(
                    Status::LIBSEV_STATUS_MODEL_CONFIG,
                    "model spec \"emulated:\" names no state directory (use \"emulated\" or \
                     \"emulated:DIR\")",
                ));
            }
            return Ok(ModelConfig {
                state_dir: Some(PathBuf::from(dir)),
                ..ModelConfig::default()
            });
        }
        Err(Error::new(
            Status::LIBSEV_STATUS_MODEL_CONFIG,
            format!("unknown model spec {s:?}: expected \"emulated\" or \"emulated:DIR\""),
        ))
    }

    fn validate(&self) -> Result<()> {
        if self.asids == 0 {
            return Err(Error::new(
                Status::LIBSEV_STATUS_MODEL_CONFIG,
                "model configuration: asids must be at least 1",
            ));
        }
        Ok(())
    }
}

/// Open a model platform (a fresh emulated AMD Secure Processor, in state UNINIT, with its
/// identity loaded from `config.state_dir` when given).
pub fn open(config: ModelConfig) -> Result<Arc<ModelPlatform>> {
    config.validate()?;
    ModelPlatform::new(config).map(Arc::new)
}
