//! The expected SEV-ES launch digest (snp-spec §1.9):
//!
//! ```text
//! LD = SHA-256( OVMF image ‖ [176-byte kernel-hashes table] ‖ VMSA(0) ‖ … ‖ VMSA(n−1) )
//! ```
//!
//! in the order QEMU issues the commands: LAUNCH_UPDATE_DATA over the firmware, then over the
//! hashes table (measured direct boot), then LAUNCH_UPDATE_VMSA for every vCPU in index order.
//! Each VMSA is the page KVM builds from the VMM's reset state ([`crate::uapi::vmsa`]).

use super::hashes::{DirectBoot, padded_table};
use super::ovmf::Ovmf;
use crate::error::Error;
use crate::owner::measurement::LaunchDigest;
use crate::status::Status;
use crate::uapi::vmsa::{KvmInit, VMSA_SIZE, VmmType, VmsaParams, reset_vmsa};

/// Most vCPUs KVM allows in one VM (`KVM_MAX_VCPUS` on x86).
pub const MAX_VCPUS: u32 = 4096;

/// Everything an SEV-ES launch digest depends on.
#[derive(Debug, Clone, Copy)]
pub struct EsLaunchInputs<'a> {
    /// The firmware image exactly as the hypervisor measures it (e.g. `OVMF_CODE.fd`).
    pub ovmf: &'a [u8],
    /// Kernel, initrd and command line for measured direct boot (QEMU `kernel-hashes=on`).
    pub boot: Option<DirectBoot<'a>>,
    /// Number of vCPUs (1 … [`MAX_VCPUS`]).
    pub vcpus: u32,
    /// The vCPU model's CPUID(1).EAX signature (RDX at reset; ignored by EC2 and GCE).
    pub vcpu_signature: u32,
    pub vmm: VmmType,
    /// How the VM was initialised (`KVM_SEV_ES_INIT`, QEMU's default, or `KVM_SEV_INIT2`).
    pub init: KvmInit,
    /// SEV_FEATURES in the VMSAs ("guest features"; 0 unless INIT2 was given
    /// `vmsa_features`).
    pub sev_features: u64,
}

impl EsLaunchInputs<'_> {
    /// A one-line description of the inputs, for mismatch messages.
    pub fn describe(&self) -> String {
        let init = match self.init {
            KvmInit::EsInit => "KVM_SEV_ES_INIT",
            KvmInit::Init2 => "KVM_SEV_INIT2",
        };
        let boot = match &self.boot {
            None => "no direct boot".to_string(),
            Some(b) => format!(
                "direct boot (kernel {} B, initrd {} B, cmdline {})",
                b.kernel.len(),
                b.initrd.len(),
                match b.cmdline {
                    None => "none".to_string(),
                    Some(c) => format!("{} B", c.len()),
                }
            ),
        };
        format!(
            "firmware {} B, {}, {} vCPU(s), vCPU signature {:#010x}, VMM {}, {}, SEV features {:#x}",
            self.ovmf.len(),
            boot,
            self.vcpus,
            self.vcpu_signature,
            self.vmm.name(),
            init,
            self.sev_features
        )
    }
}

/// Check the inputs and parse the image.
fn check(inputs: &EsLaunchInputs<'_>) -> Result<Ovmf, Error> {
    if inputs.vcpus == 0 || inputs.vcpus > MAX_VCPUS {
        return Err(Error::arg(format!(
            "SEV-ES launch digest: {} vCPUs (want 1 to {MAX_VCPUS})",
            inputs.vcpus
        )));
    }
    let ovmf = Ovmf::parse(inputs.ovmf)
        .map_err(|e| Error::new(Status::LIBSEV_STATUS_BAD_FIRMWARE_IMAGE, e.to_string()))?;
    if inputs.boot.is_some() {
        ovmf.hash_table().map_err(|e| {
            Error::new(
                Status::LIBSEV_STATUS_BAD_FIRMWARE_IMAGE,
                format!("a kernel was given for measured direct boot, but {e}"),
            )
        })?;
    }
    Ok(ovmf)
}

/// The VMSA pages of an SEV-ES launch for `inputs`, vCPU 0 first.
pub fn es_vmsa_pages(inputs: &EsLaunchInputs<'_>) -> Result<Vec<[u8; VMSA_SIZE]>, Error> {
    let ovmf = check(inputs)?;
    let params = VmsaParams {
        init: inputs.init,
        sev_features: inputs.sev_features,
    };
    let reset = ovmf.sev_es_reset_addr();
    let sig = inputs.vcpu_signature;
    Ok((0..inputs.vcpus)
        .map(|i| reset_vmsa(inputs.vmm, sig, i, reset, &params))
        .collect())
}

/// The SEV-ES launch digest the firmware reaches for `inputs`.
pub fn es_launch_digest(inputs: &EsLaunchInputs<'_>) -> Result<[u8; 32], Error> {
    let ovmf = check(inputs)?;
    let mut ld = LaunchDigest::new();
    ld.update(inputs.ovmf);
    if let Some(boot) = &inputs.boot {
        ld.update(&padded_table(boot));
    }
    let params = VmsaParams {
        init: inputs.init,
        sev_features: inputs.sev_features,
    };
    let reset = ovmf.sev_es_reset_addr();
    let sig = inputs.vcpu_signature;
    // Only CS.base and RIP differ between vCPUs: one BSP page, one AP page repeated.
    let bsp = reset_vmsa(inputs.vmm, sig, 0, reset, &params);
    ld.update(&bsp);
    if inputs.vcpus > 1 {
        let ap = reset_vmsa(inputs.vmm, sig, 1, reset, &params);
        for _ in 1..inputs.vcpus {
            ld.update(&ap);
        }
    }
    Ok(ld.value())
}

#[cfg(test)]
#[path = "digest_tests.rs"]
mod tests;
