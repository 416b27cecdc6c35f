//! The SEV-SNP kernel ABI, byte for byte: KVM's `KVM_SEV_SNP_*` structs (from `kvm-bindings`,
//! layout-asserted there), the `/dev/sev` SNP structs of `<linux/psp-sev.h>` (declared here,
//! packed as the kernel declares them) and the firmware layouts both sides of the seam share
//! (PAGE_INFO, ID block, ID authentication page, secrets page, CPUID page, TCB_VERSION).

pub use kvm_bindings::{
    kvm_sev_snp_launch_finish, kvm_sev_snp_launch_start, kvm_sev_snp_launch_update,
};

/// KVM VM type of an SNP VM (`KVM_X86_SNP_VM`).
pub const KVM_X86_SNP_VM: u64 = 4;

/// `KVM_SEV_SNP_*` sub-command ids.
pub mod kvm_snp_cmd {
    pub const LAUNCH_START: u32 = kvm_bindings::sev_cmd_id_KVM_SEV_SNP_LAUNCH_START;
    pub const LAUNCH_UPDATE: u32 = kvm_bindings::sev_cmd_id_KVM_SEV_SNP_LAUNCH_UPDATE;
    pub const LAUNCH_FINISH: u32 = kvm_bindings::sev_cmd_id_KVM_SEV_SNP_LAUNCH_FINISH;
}

/// `/dev/sev` SNP user command numbers (`SNP_*` in `<linux/psp-sev.h>`).
pub mod snp_user_cmd {
    pub const PLATFORM_STATUS: u32 = 9;
    pub const COMMIT: u32 = 10;
    pub const SET_CONFIG: u32 = 11;
    pub const VLEK_LOAD: u32 = 12;
}

/// SNP page types (firmware numbering; KVM accepts all but VMSA in LAUNCH_UPDATE).
pub mod page_type {
    pub const NORMAL: u8 = 1;
    pub const VMSA: u8 = 2;
    pub const ZERO: u8 = 3;
    pub const UNMEASURED: u8 = 4;
    pub const SECRETS: u8 = 5;
    pub const CPUID: u8 = 6;

    /// The firmware's name of a page type.
    pub fn name(t: u8) -> &'static str {
        match t {
            NORMAL => "NORMAL",
            VMSA => "VMSA",
            ZERO => "ZERO",
            UNMEASURED => "UNMEASURED",
            SECRETS => "SECRETS",
            CPUID => "CPUID",
            _ => "RESERVED",
        }
    }
}

/// Guest policy bits (`SNP_POLICY_*`).
pub mod policy {
    /// Bits 0–7 ABI minor, 8–15 ABI major.
    pub const ABI_MINOR_MASK: u64 = 0xFF;
    pub const ABI_MAJOR_SHIFT: u32 = 8;
    pub const SMT: u64 = 1 << 16;
    /// Reserved, must be one.
    pub const RSVD_MBO: u64 = 1 << 17;
    pub const MIGRATE_MA: u64 = 1 << 18;
    pub const DEBUG: u64 = 1 << 19;
    pub const SINGLE_SOCKET: u64 = 1 << 20;
    /// What KVM accepts in `KVM_SEV_SNP_LAUNCH_START` (bits 0–17, 19, 20).
    pub const KVM_VALID: u64 = 0xFFFF | SMT | RSVD_MBO | DEBUG | SINGLE_SOCKET;
    /// QEMU's default policy (SMT | RSVD_MBO).
    pub const DEFAULT: u64 = SMT | RSVD_MBO;
}

/// The GPA every vCPU's initial VMSA is measured at (KVM's `INITIAL_VMSA_GPA`).
pub const INITIAL_VMSA_GPA: u64 = 0xFFFF_FFFF_F000;

/// `struct sev_user_data_snp_status` (32 bytes, packed): SNP_PLATFORM_STATUS output.
#[repr(C, packed)]
#[derive(Debug, Default, Clone, Copy)]
pub struct sev_user_data_snp_status {
    pub api_major: u8,
    pub api_minor: u8,
    /// 0 UNINIT, 1 INIT.
    pub state: u8,
    /// bit 0: RMP initialised.
    pub is_rmp_initialized: u8,
    pub build_id: u32,
    /// bit 0 mask_chip_id, 1 mask_chip_key, 2 vlek_en, 3 feature_info, 4 rapl_dis,
    /// 5 ciphertext_hiding_cap, 6 ciphertext_hiding_en.
    pub flags: u32,
    pub guest_count: u32,
    pub current_tcb_version: u64,
    pub reported_tcb_version: u64,
}

/// `struct sev_user_data_snp_config` (64 bytes, packed): SNP_SET_CONFIG input (and the
/// firmware's SNP_CONFIG buffer).
#[repr(C, packed)]
#[derive(Debug, Clone, Copy)]
pub struct sev_user_data_snp_config {
    pub reported_tcb: u64,
    /// bit 0 mask_chip_id, bit 1 mask_chip_key; bits 2–31 reserved.
    pub flags: u32,
    pub rsvd1: [u8; 52],
}

impl Default for sev_user_data_snp_config {
    fn default() -> Self {
        sev_user_data_snp_config {
            reported_tcb: 0,
            flags: 0,
            rsvd1: [0; 52],
        }
    }
}

/// `struct sev_user_data_snp_vlek_load` (16 bytes, packed): SNP_VLEK_LOAD input.
#[repr(C, packed)]
#[derive(Debug, Default, Clone, Copy)]
pub struct sev_user_data_snp_vlek_load {
    /// Must be 16.
    pub len: u32,
    /// Must be 0.
    pub vlek_wrapped_version: u8,
    pub rsvd: [u8; 3],
    /// User address of the 432-byte wrapped hash stick.
    pub vlek_wrapped_address: u64,
}

/// `struct sev_user_data_snp_commit` is the firmware's `{length u32 = 4}`; the ioctl itself
/// takes no user data.
pub const SNP_COMMIT_LENGTH: u32 = 4;

/// Sizes and offsets fixed by the SNP firmware.
pub mod snp_sizes {
    pub const PAGE: usize = 4096;
    /// A launch digest / SHA-384.
    pub const DIGEST: usize = 48;
    /// PAGE_INFO.
    pub const PAGE_INFO: usize = 0x70;
    /// ID block.
    pub const ID_BLOCK: usize = 96;
    /// ID authentication information.
    pub const ID_AUTH: usize = 4096;
    /// LAUNCH_FINISH host data.
    pub const HOST_DATA: usize = 32;
    /// GOSVW of LAUNCH_START.
    pub const GOSVW: usize = 16;
    /// The wrapped VLEK hash stick of SNP_VLEK_LOAD.
    pub const VLEK_WRAPPED: usize = 432;
    /// The attestation report.
    pub const REPORT: usize = 0x4A0;
    /// Signed part of the report.
    pub const REPORT_SIGNED: usize = 0x2A0;
    /// Maximum entries of a CPUID page.
    pub const CPUID_MAX: usize = 64;
    /// One CPUID page entry.
    pub const CPUID_ENTRY: usize = 48;
}

/// ID authentication information offsets (`snp_mcmd_launch_finish_id_auth_page_t`).
pub mod id_auth {
    pub const ID_KEY_ALGO: usize = 0x000;
    pub const AUTH_KEY_ALGO: usize = 0x004;
    pub const ID_BLOCK_SIG: usize = 0x040;
    pub const ID_KEY: usize = 0x240;
    pub const ID_KEY_SIG: usize = 0x680;
    pub const AUTHOR_KEY: usize = 0x880;
    /// A signature structure: r (72 bytes LE) ‖ s (72 bytes LE), zero to 0x200.
    pub const SIG_LEN: usize = 0x200;
    /// A public key structure: curve u32 ‖ qx (72 LE) ‖ qy (72 LE), zero to 0x404.
    pub const KEY_LEN: usize = 0x404;
    /// ECDSA P-384 with SHA-384.
    pub const ALGO_ECDSA_P384_SHA384: u32 = 1;
    /// Curve id of P-384.
    pub const CURVE_P384: u32 = 2;
}

/// Secrets page offsets (version 3).
pub mod secrets {
    pub const VERSION: usize = 0x000;
    pub const IMI_EN: usize = 0x004;
    pub const FMS: usize = 0x008;
    pub const GOSVW: usize = 0x010;
    pub const VMPCK0: usize = 0x020;
    pub const VMPCK_LEN: usize = 32;
    pub const VMSA_TWEAK_BITMAP: usize = 0x100;
    pub const TSC_FACTOR: usize = 0x160;
}

/// TCB_VERSION components by processor generation (`sev-spec` SNP §2.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcbVersion {
    /// Turin and later only (0 otherwise).
    pub fmc: u8,
    pub bootloader: u8,
    pub tee: u8,
    pub snp: u8,
    pub microcode: u8,
}

impl TcbVersion {
    /// Encode with the Milan/Genoa layout (BL @0, TEE @1, SNP @6, ucode @7).
    pub fn to_u64_milan(self) -> u64 {
        u64::from_le_bytes([
            self.bootloader,
            self.tee,
            0,
            0,
            0,
            0,
            self.snp,
            self.microcode,
        ])
    }

    /// Decode the Milan/Genoa layout.
    pub fn from_u64_milan(v: u64) -> TcbVersion {
        let b = v.to_le_bytes();
        TcbVersion {
            fmc: 0,
            bootloader: b[0],
            tee: b[1],
            snp: b[6],
            microcode: b[7],
        }
    }

    /// Encode with the Turin layout (FMC @0, BL @1, TEE @2, SNP @3, ucode @7).
    pub fn to_u64_turin(self) -> u64 {
        u64::from_le_bytes([
            self.fmc,
            self.bootloader,
            self.tee,
            self.snp,
            0,
            0,
            0,
            self.microcode,
        ])
    }

    /// Decode the Turin layout.
    pub fn from_u64_turin(v: u64) -> TcbVersion {
        let b = v.to_le_bytes();
        TcbVersion {
            fmc: b[0],
            bootloader: b[1],
            tee: b[2],
            snp: b[3],
            microcode: b[7],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    #[test]
    fn snp_dev_sev_structs_match_the_kernel() {
        assert_eq!(size_of::<sev_user_data_snp_status>(), 32);
        assert_eq!(offset_of!(sev_user_data_snp_status, build_id), 4);
        assert_eq!(offset_of!(sev_user_data_snp_status, flags), 8);
        assert_eq!(offset_of!(sev_user_data_snp_status, guest_count), 12);
        assert_eq!(
            offset_of!(sev_user_data_snp_status, current_tcb_version),
            16
        );
        assert_eq!(
            offset_of!(sev_user_data_snp_status, reported_tcb_version),
            24
        );
        assert_eq!(size_of::<sev_user_data_snp_config>(), 64);
        assert_eq!(offset_of!(sev_user_data_snp_config, flags), 8);
        assert_eq!(size_of::<sev_user_data_snp_vlek_load>(), 16);
        assert_eq!(
            offset_of!(sev_user_data_snp_vlek_load, vlek_wrapped_address),
            8
        );
    }

    #[test]
    fn kvm_snp_structs_match_the_kernel() {
        assert_eq!(size_of::<kvm_sev_snp_launch_start>(), 64);
        assert_eq!(size_of::<kvm_sev_snp_launch_update>(), 64);
        assert_eq!(size_of::<kvm_sev_snp_launch_finish>(), 88);
        assert_eq!(offset_of!(kvm_sev_snp_launch_finish, id_block_en), 16);
        assert_eq!(offset_of!(kvm_sev_snp_launch_finish, host_data), 19);
        assert_eq!(offset_of!(kvm_sev_snp_launch_finish, flags), 54);
        assert_eq!(kvm_snp_cmd::LAUNCH_START, 100);
        assert_eq!(kvm_snp_cmd::LAUNCH_FINISH, 102);
    }

    #[test]
    fn tcb_layouts_follow_the_generation() {
        // Milan report KAT: 03 00 00 00 00 00 08 73.
        let t = TcbVersion::from_u64_milan(u64::from_le_bytes([3, 0, 0, 0, 0, 0, 8, 0x73]));
        assert_eq!((t.bootloader, t.tee, t.snp, t.microcode), (3, 0, 8, 0x73));
        assert_eq!(
            t.to_u64_milan(),
            u64::from_le_bytes([3, 0, 0, 0, 0, 0, 8, 0x73])
        );
        let u = TcbVersion {
            fmc: 1,
            bootloader: 2,
            tee: 3,
            snp: 4,
            microcode: 5,
        };
        assert_eq!(TcbVersion::from_u64_turin(u.to_u64_turin()), u);
        assert_eq!(u.to_u64_turin().to_le_bytes(), [1, 2, 3, 4, 0, 0, 0, 5]);
    }
}
