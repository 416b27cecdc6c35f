//! The kernel ABI, byte for byte.
//!
//! KVM's `KVM_MEMORY_ENCRYPT_OP` structures come from `kvm-bindings` (generated from the
//! kernel's uapi headers, with compile-time layout asserts). The `/dev/sev` structures of
//! `<linux/psp-sev.h>` are not in `kvm-bindings`; they are declared here, packed exactly as
//! the kernel declares them, with layout tests below.

pub mod snp;

pub use kvm_bindings::{
    kvm_enc_region, kvm_sev_attestation_report, kvm_sev_cmd, kvm_sev_dbg, kvm_sev_guest_status,
    kvm_sev_init, kvm_sev_launch_measure, kvm_sev_launch_secret, kvm_sev_launch_start,
    kvm_sev_launch_update_data, kvm_sev_receive_start, kvm_sev_receive_update_data,
    kvm_sev_send_start, kvm_sev_send_update_data,
};

/// `KVM_SEV_*` sub-command ids (`enum sev_cmd_id` in `<linux/kvm.h>`).
pub mod kvm_cmd {
    pub const INIT: u32 = kvm_bindings::sev_cmd_id_KVM_SEV_INIT;
    pub const ES_INIT: u32 = kvm_bindings::sev_cmd_id_KVM_SEV_ES_INIT;
    pub const LAUNCH_START: u32 = kvm_bindings::sev_cmd_id_KVM_SEV_LAUNCH_START;
    pub const LAUNCH_UPDATE_DATA: u32 = kvm_bindings::sev_cmd_id_KVM_SEV_LAUNCH_UPDATE_DATA;
    pub const LAUNCH_UPDATE_VMSA: u32 = kvm_bindings::sev_cmd_id_KVM_SEV_LAUNCH_UPDATE_VMSA;
    pub const LAUNCH_SECRET: u32 = kvm_bindings::sev_cmd_id_KVM_SEV_LAUNCH_SECRET;
    pub const LAUNCH_MEASURE: u32 = kvm_bindings::sev_cmd_id_KVM_SEV_LAUNCH_MEASURE;
    pub const LAUNCH_FINISH: u32 = kvm_bindings::sev_cmd_id_KVM_SEV_LAUNCH_FINISH;
    pub const SEND_START: u32 = kvm_bindings::sev_cmd_id_KVM_SEV_SEND_START;
    pub const SEND_UPDATE_DATA: u32 = kvm_bindings::sev_cmd_id_KVM_SEV_SEND_UPDATE_DATA;
    pub const SEND_FINISH: u32 = kvm_bindings::sev_cmd_id_KVM_SEV_SEND_FINISH;
    pub const RECEIVE_START: u32 = kvm_bindings::sev_cmd_id_KVM_SEV_RECEIVE_START;
    pub const RECEIVE_UPDATE_DATA: u32 = kvm_bindings::sev_cmd_id_KVM_SEV_RECEIVE_UPDATE_DATA;
    pub const RECEIVE_FINISH: u32 = kvm_bindings::sev_cmd_id_KVM_SEV_RECEIVE_FINISH;
    pub const GUEST_STATUS: u32 = kvm_bindings::sev_cmd_id_KVM_SEV_GUEST_STATUS;
    pub const DBG_DECRYPT: u32 = kvm_bindings::sev_cmd_id_KVM_SEV_DBG_DECRYPT;
    pub const DBG_ENCRYPT: u32 = kvm_bindings::sev_cmd_id_KVM_SEV_DBG_ENCRYPT;
    pub const GET_ATTESTATION_REPORT: u32 = kvm_bindings::sev_cmd_id_KVM_SEV_GET_ATTESTATION_REPORT;
    pub const SEND_CANCEL: u32 = kvm_bindings::sev_cmd_id_KVM_SEV_SEND_CANCEL;
    pub const INIT2: u32 = kvm_bindings::sev_cmd_id_KVM_SEV_INIT2;
}

/// `/dev/sev` user command numbers (`SEV_*` in `<linux/psp-sev.h>`).
pub mod sev_user_cmd {
    pub const FACTORY_RESET: u32 = 0;
    pub const PLATFORM_STATUS: u32 = 1;
    pub const PEK_GEN: u32 = 2;
    pub const PEK_CSR: u32 = 3;
    pub const PDH_GEN: u32 = 4;
    pub const PDH_CERT_EXPORT: u32 = 5;
    pub const PEK_CERT_IMPORT: u32 = 6;
    pub const GET_ID: u32 = 7;
    pub const GET_ID2: u32 = 8;
}

pub mod vmsa;

/// `KVM_MEMORY_ENCRYPT_OP` = `_IOWR(0xAE, 0xBA, unsigned long)`.
pub const KVM_MEMORY_ENCRYPT_OP: u64 = 0xC008_AEBA;
/// `KVM_MEMORY_ENCRYPT_REG_REGION` = `_IOR(0xAE, 0xBB, struct kvm_enc_region)`.
pub const KVM_MEMORY_ENCRYPT_REG_REGION: u64 = 0x8010_AEBB;
/// `KVM_MEMORY_ENCRYPT_UNREG_REGION` = `_IOR(0xAE, 0xBC, struct kvm_enc_region)`.
pub const KVM_MEMORY_ENCRYPT_UNREG_REGION: u64 = 0x8010_AEBC;
/// `SEV_ISSUE_CMD` = `_IOWR('S', 0x0, struct sev_issue_cmd)`.
pub const SEV_ISSUE_CMD: u64 = 0xC010_5300;

/// Largest blob the kernel copies for a guest command (`SEV_FW_BLOB_MAX_SIZE`).
pub const SEV_FW_BLOB_MAX_SIZE: u32 = 0x4000;

/// `struct sev_issue_cmd` (16 bytes, packed).
#[repr(C, packed)]
#[derive(Debug, Default, Clone, Copy)]
pub struct sev_issue_cmd {
    pub cmd: u32,
    pub data: u64,
    pub error: u32,
}

/// `struct sev_user_data_status` (12 bytes, packed): PLATFORM_STATUS output.
#[repr(C, packed)]
#[derive(Debug, Default, Clone, Copy)]
pub struct sev_user_data_status {
    pub api_major: u8,
    pub api_minor: u8,
    pub state: u8,
    /// bit 0: externally owned; bit 8: CONFIG.ES.
    pub flags: u32,
    pub build: u8,
    pub guest_count: u32,
}

/// `struct sev_user_data_pek_csr` (12 bytes, packed).
#[repr(C, packed)]
#[derive(Debug, Default, Clone, Copy)]
pub struct sev_user_data_pek_csr {
    pub address: u64,
    pub length: u32,
}

/// `struct sev_user_data_pek_cert_import` (24 bytes, packed).
#[repr(C, packed)]
#[derive(Debug, Default, Clone, Copy)]
pub struct sev_user_data_pek_cert_import {
    pub pek_cert_address: u64,
    pub pek_cert_len: u32,
    pub oca_cert_address: u64,
    pub oca_cert_len: u32,
}

/// `struct sev_user_data_pdh_cert_export` (24 bytes, packed).
#[repr(C, packed)]
#[derive(Debug, Default, Clone, Copy)]
pub struct sev_user_data_pdh_cert_export {
    pub pdh_cert_address: u64,
    pub pdh_cert_len: u32,
    pub cert_chain_address: u64,
    pub cert_chain_len: u32,
}

/// `struct sev_user_data_get_id2` (12 bytes, packed).
#[repr(C, packed)]
#[derive(Debug, Default, Clone, Copy)]
pub struct sev_user_data_get_id2 {
    pub address: u64,
    pub length: u32,
}

/// Sizes fixed by the firmware.
pub mod sizes {
    /// An SEV certificate (PDH, PEK, OCA, CEK, GODH).
    pub const SEV_CERT: usize = 0x824;
    /// PEK ‖ OCA ‖ CEK, as PDH_CERT_EXPORT returns it.
    pub const CERT_CHAIN: usize = 3 * SEV_CERT;
    /// The launch session blob.
    pub const SESSION: usize = 0x80;
    /// LAUNCH_MEASURE output: MEASURE[32] ‖ MNONCE[16].
    pub const MEASUREMENT: usize = 48;
    /// Packet header of LAUNCH_SECRET and SEND/RECEIVE_UPDATE_DATA.
    pub const PACKET_HEADER: usize = 52;
    /// The legacy attestation report.
    pub const ATTESTATION_REPORT: usize = 0xD0;
    /// GET_ID output for one socket.
    pub const CHIP_ID: usize = 64;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    #[test]
    fn dev_sev_structs_match_the_kernel() {
        assert_eq!(size_of::<sev_issue_cmd>(), 16);
        assert_eq!(offset_of!(sev_issue_cmd, data), 4);
        assert_eq!(offset_of!(sev_issue_cmd, error), 12);
        assert_eq!(size_of::<sev_user_data_status>(), 12);
        assert_eq!(offset_of!(sev_user_data_status, state), 2);
        assert_eq!(offset_of!(sev_user_data_status, flags), 3);
        assert_eq!(offset_of!(sev_user_data_status, build), 7);
        assert_eq!(offset_of!(sev_user_data_status, guest_count), 8);
        assert_eq!(size_of::<sev_user_data_pek_csr>(), 12);
        assert_eq!(size_of::<sev_user_data_pek_cert_import>(), 24);
        assert_eq!(
            offset_of!(sev_user_data_pek_cert_import, oca_cert_address),
            12
        );
        assert_eq!(offset_of!(sev_user_data_pek_cert_import, oca_cert_len), 20);
        assert_eq!(size_of::<sev_user_data_pdh_cert_export>(), 24);
        assert_eq!(
            offset_of!(sev_user_data_pdh_cert_export, cert_chain_address),
            12
        );
        assert_eq!(
            offset_of!(sev_user_data_pdh_cert_export, cert_chain_len),
            20
        );
        assert_eq!(size_of::<sev_user_data_get_id2>(), 12);
    }

    #[test]
    fn ioctl_numbers_follow_the_ioc_encoding() {
        const fn ioc(dir: u64, ty: u64, nr: u64, size: u64) -> u64 {
            (dir << 30) | (size << 16) | (ty << 8) | nr
        }
        const W: u64 = 1;
        const R: u64 = 2;
        assert_eq!(KVM_MEMORY_ENCRYPT_OP, ioc(R | W, 0xAE, 0xBA, 8));
        assert_eq!(KVM_MEMORY_ENCRYPT_REG_REGION, ioc(R, 0xAE, 0xBB, 16));
        assert_eq!(KVM_MEMORY_ENCRYPT_UNREG_REGION, ioc(R, 0xAE, 0xBC, 16));
        assert_eq!(SEV_ISSUE_CMD, ioc(R | W, b'S' as u64, 0, 16));
    }
}
