//! The expected SEV-SNP launch digest (`snp-spec` §5): OVMF's pages, its SEV metadata
//! sections, the optional kernel-hashes page, then one VMSA page per vCPU, chained through
//! PAGE_INFO with SHA-384.

use crate::owner::es::{DirectBoot, Ovmf, OvmfError, SectionType, padded_table};
use crate::uapi::vmsa::{KvmInit, VmmType, VmsaParams, reset_vmsa};
use sha2::{Digest, Sha384};

/// SNP_LAUNCH_UPDATE page types.
pub mod page_type {
    pub const NORMAL: u8 = 1;
    pub const VMSA: u8 = 2;
    pub const ZERO: u8 = 3;
    pub const UNMEASURED: u8 = 4;
    pub const SECRETS: u8 = 5;
    pub const CPUID: u8 = 6;
}

/// The GPA KVM gives every VMSA in PAGE_INFO.
pub const VMSA_GPA: u64 = 0xFFFF_FFFF_F000;
const PAGE: usize = 4096;

/// One PAGE_INFO step: LD' = SHA-384(LD ‖ contents ‖ 0x70 ‖ type ‖ imi 0 ‖ VMPL perms 0 ‖
/// gpa). `page` is hashed for NORMAL and VMSA pages (48 zero bytes of contents otherwise).
pub fn page_info_update(ld: &[u8; 48], kind: u8, gpa: u64, page: Option<&[u8]>) -> [u8; 48] {
    let mut info = [0u8; 0x70];
    info[..48].copy_from_slice(ld);
    if let Some(p) = page.filter(|_| kind == page_type::NORMAL || kind == page_type::VMSA) {
        info[48..96].copy_from_slice(&Sha384::digest(p));
    }
    info[0x60..0x62].copy_from_slice(&0x70u16.to_le_bytes());
    info[0x62] = kind;
    // 0x63 imi_page, 0x64..0x68 VMPL permissions: all zero in KVM's flow.
    info[0x68..0x70].copy_from_slice(&gpa.to_le_bytes());
    Sha384::digest(info).into()
}

/// What the launch digest depends on.
#[derive(Debug, Clone, Copy)]
pub struct SnpMeasureInputs<'a> {
    /// The OVMF image exactly as launched (mapped to end at 4 GiB).
    pub ovmf: &'a [u8],
    /// Number of vCPUs (1 or more).
    pub vcpus: u32,
    /// The vCPU model's CPUID(1).EAX signature (RDX at reset; QEMU profile only).
    pub vcpu_signature: u32,
    pub vmm: VmmType,
    /// SEV_FEATURES of the VMSAs (SNPActive, bit 0, is always set): 0x1 by default, 0x21 with
    /// DebugSwap.
    pub guest_features: u64,
    /// Measured direct boot (QEMU `kernel-hashes=on`), or `None`.
    pub boot: Option<DirectBoot<'a>>,
}

/// Why no digest could be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MeasureError {
    #[error("OVMF: {0}")]
    Ovmf(String),
    #[error("the OVMF image's length {0} is not a multiple of 4096")]
    ImageLength(usize),
    #[error(
        "measured direct boot (a kernel) was asked for but the OVMF metadata has no SNP_KERNEL_HASHES section \
         (this build cannot measure a directly booted kernel)"
    )]
    NoKernelHashes,
    #[error("vCPU count {0} is out of range (1 to 512)")]
    Vcpus(u32),
    #[error("metadata section at {gpa:#x} of {size:#x} bytes is not page-aligned")]
    Section { gpa: u32, size: u32 },
}

impl From<OvmfError> for MeasureError {
    fn from(e: OvmfError) -> Self {
        MeasureError::Ovmf(e.to_string())
    }
}

/// The launch digest after OVMF's own pages (what `--snp-ovmf-hash` tools precompute).
pub fn ovmf_digest(ovmf: &[u8]) -> Result<[u8; 48], MeasureError> {
    if ovmf.is_empty() || ovmf.len() % PAGE != 0 {
        return Err(MeasureError::ImageLength(ovmf.len()));
    }
    let base = (1u64 << 32) - ovmf.len() as u64;
    let mut ld = [0u8; 48];
    for (i, p) in ovmf.chunks(PAGE).enumerate() {
        ld = page_info_update(&ld, page_type::NORMAL, base + (i * PAGE) as u64, Some(p));
    }
    Ok(ld)
}

/// The expected MEASUREMENT of an SNP guest launched the way `inputs` says (QEMU's order:
/// OVMF pages, metadata sections in table order, VMSAs of vCPU 0, 1, ...).
pub fn snp_launch_digest(inputs: &SnpMeasureInputs<'_>) -> Result<[u8; 48], MeasureError> {
    if inputs.vcpus == 0 || inputs.vcpus > 512 {
        return Err(MeasureError::Vcpus(inputs.vcpus));
    }
    let ovmf = Ovmf::parse(inputs.ovmf)?;
    let sections = ovmf.metadata()?;
    let mut ld = ovmf_digest(inputs.ovmf)?;
    let hashes_section = sections
        .iter()
        .any(|s| s.kind == SectionType::SnpKernelHashes);
    let table = match &inputs.boot {
        Some(b) => {
            if !hashes_section {
                return Err(MeasureError::NoKernelHashes);
            }
            Some((ovmf.hash_table()?.base as u64, padded_table(b)))
        }
        None => None,
    };
    let mut deferred_cpuid = Vec::new();
    for s in sections {
        if s.gpa % PAGE as u32 != 0 || s.size % PAGE as u32 != 0 {
            return Err(MeasureError::Section {
                gpa: s.gpa,
                size: s.size,
            });
        }
        for j in 0..(s.size as u64 / PAGE as u64) {
            let gpa = s.gpa as u64 + j * PAGE as u64;
            match s.kind {
                SectionType::SnpSecMem => {
                    let t = if inputs.vmm == VmmType::Gce {
                        page_type::UNMEASURED
                    } else {
                        page_type::ZERO
                    };
                    ld = page_info_update(&ld, t, gpa, None);
                }
                SectionType::SnpSecrets => {
                    ld = page_info_update(&ld, page_type::SECRETS, gpa, None);
                }
                SectionType::Cpuid => {
                    if inputs.vmm == VmmType::Ec2 {
                        deferred_cpuid.push(gpa);
                    } else {
                        ld = page_info_update(&ld, page_type::CPUID, gpa, None);
                    }
                }
                SectionType::SnpKernelHashes => match &table {
                    Some((base, t)) => {
                        let mut page = [0u8; PAGE];
                        if *base & !0xFFF == gpa {
                            let o = (*base & 0xFFF) as usize;
                            let n = t.len().min(PAGE - o);
                            page[o..o + n].copy_from_slice(&t[..n]);
                        }
                        ld = page_info_update(&ld, page_type::NORMAL, gpa, Some(&page));
                    }
                    None => ld = page_info_update(&ld, page_type::ZERO, gpa, None),
                },
                SectionType::SvsmCaa | SectionType::Other(_) => {
                    ld = page_info_update(&ld, page_type::ZERO, gpa, None);
                }
            }
        }
    }
    for gpa in deferred_cpuid {
        ld = page_info_update(&ld, page_type::CPUID, gpa, None);
    }
    let params = VmsaParams {
        init: KvmInit::Init2,
        sev_features: inputs.guest_features | 1,
    };
    let ap = ovmf.sev_es_reset_addr();
    for i in 0..inputs.vcpus {
        let vmsa = reset_vmsa(inputs.vmm, inputs.vcpu_signature, i, ap, &params);
        ld = page_info_update(&ld, page_type::VMSA, VMSA_GPA, Some(&vmsa));
    }
    Ok(ld)
}

#[cfg(test)]
#[path = "measure_tests.rs"]
mod tests;
