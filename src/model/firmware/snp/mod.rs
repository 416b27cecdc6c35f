//! The SEV-SNP part of the firmware model (`sev-spec` SNP §3): the SNP platform (state, TCB
//! versions, SNP_CONFIG/SNP_COMMIT, the VLEK slot, the VCEK), guest contexts addressed as the
//! firmware addresses them (GCTX pages, here numbered), the guest states INIT → LAUNCH →
//! RUNNING, SNP_LAUNCH_START / UPDATE / FINISH with the SHA-384 PAGE_INFO chain, the secrets
//! page, CPUID page validation and ID block verification; KVM's SNP VM on top (`vm.rs`) and
//! the PSP driver's SNP ioctls (`devsev.rs`).
//!
//! Model choices (where hardware cannot be reproduced or the sources leave room):
//! * The RMP is folded into the model VM's private memory: each private page carries its
//!   RMP state (PRE_GUEST while KVM populates it, GUEST_VALID once launched). Private memory
//!   is plaintext held inside the model, never mapped into the caller; the host reads it only
//!   through commands the policy allows (none at launch).
//! * The VCEK is one P-384 key per (chip, REPORTED_TCB), derived from the chip seed through
//!   the SP 800-108 KDF; real VCEKs cannot be reproduced. The VLEK slot accepts a blob
//!   wrapped with the model's own wrapping key ([`ModelPlatform::snp_wrap_vlek`]).
//! * SNP is initialised by the PSP driver's platform INIT (before legacy SEV), as Linux does;
//!   the platform runs API 1.55 (policy bits ≥ 21 are reserved, as in firmware 1.55.25).

mod cpuid;
mod devsev;
mod fw;
pub mod guestmsg;
mod idblock;
pub mod measure;
mod vm;

pub use cpuid::{CpuidEntry, cpuid_page, host_cpuid_entries};
pub use vm::SnpVm;

pub(crate) use fw::SnpFw;

use crate::model::kernel::platform::ModelPlatform;
use crate::uapi::snp::TcbVersion;

/// The TCB the model runs by default (Milan/Genoa layout): BL 3, TEE 0, SNP 8, ucode 0x73.
pub const DEFAULT_TCB: TcbVersion = TcbVersion {
    fmc: 0,
    bootloader: 3,
    tee: 0,
    snp: 8,
    microcode: 0x73,
};

impl ModelPlatform {
    /// The public key of this chip's VCEK for a TCB (what AMD's key server certifies; the
    /// owner side issues the model's VCEK certificate for it from the test root).
    pub fn snp_vcek_public(&self, tcb: u64) -> p384::ecdsa::VerifyingKey {
        *self.snp.vcek(tcb).verifying_key()
    }

    /// The extended-report certificate table (`sev-spec` SNP §4.6) a VMM hands its guests for
    /// this chip: ARK and ASK of the test-only SNP root and this chip's VCEK certificate for
    /// the REPORTED_TCB (Milan generation: the model's TCB layout), issued by that root.
    pub fn snp_cert_table(&self) -> Result<Vec<u8>, String> {
        use crate::certs::snp::{SnpGeneration, Tcb, testroot};
        use crate::owner::snp::certtable::{CertKind, build};
        let generation = SnpGeneration::Milan;
        let tcb = self.snp_reported_tcb();
        let vcek = testroot::issue_vcek(
            generation,
            &self.snp_vcek_public(tcb),
            &self.chip_id(),
            &Tcb::from_u64(tcb, generation),
        )?;
        let (ark, ask) = (testroot::ark().as_der(), testroot::ask().as_der());
        Ok(build(&[
            (CertKind::Ark, ark),
            (CertKind::Ask, ask),
            (CertKind::Vcek, &vcek),
        ]))
    }

    /// The REPORTED_TCB (SNP_SET_CONFIG's, else the committed TCB).
    pub fn snp_reported_tcb(&self) -> u64 {
        crate::model::firmware::lock(&self.snp.st).reported_tcb()
    }

    /// The SNP launch digest of a model VM's guest (the firmware's GCTX.LD). Test helper for
    /// comparing with the owner's expected measurement; on hardware the digest reaches the
    /// owner only inside an attestation report.
    pub fn snp_measurement(&self, vm: &SnpVm) -> Option<[u8; 48]> {
        vm.gctx().and_then(|g| self.snp.measurement(g))
    }
}
