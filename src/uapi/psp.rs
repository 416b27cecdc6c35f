//! The PSP driver's `/dev/sev` interface (`<linux/psp-sev.h>`): user command numbers and the
//! packed structures, exactly as the kernel declares them.

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
}
