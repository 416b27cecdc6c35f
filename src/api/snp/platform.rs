//! The `/dev/sev` SNP commands on [`Platform`]: SNP_PLATFORM_STATUS, SNP_COMMIT,
//! SNP_SET_CONFIG, SNP_VLEK_LOAD.

use super::super::marshal::finish;
use super::super::platform::{Platform, ptr};
use crate::error::{Error, Result};
use crate::status::{Command, Status};
use crate::transport::Errno;
use crate::uapi::sev_issue_cmd;
use crate::uapi::snp::{
    sev_user_data_snp_config, sev_user_data_snp_status, sev_user_data_snp_vlek_load, snp_sizes,
    snp_user_cmd,
};

/// `SNP_PLATFORM_STATUS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnpPlatformStatus {
    pub api_major: u8,
    pub api_minor: u8,
    /// 0 UNINIT, 1 INIT.
    pub state: u8,
    pub rmp_initialized: bool,
    pub build_id: u32,
    pub mask_chip_id: bool,
    pub mask_chip_key: bool,
    pub vlek_en: bool,
    pub guest_count: u32,
    /// TCB_VERSION of the running firmware and microcode.
    pub current_tcb: u64,
    /// TCB_VERSION the VCEK is derived from (SNP_SET_CONFIG's, else the committed one).
    pub reported_tcb: u64,
}

impl Platform {
    fn snp_issue(&self, id: u32, data: u64) -> (std::result::Result<(), Errno>, u32) {
        let mut cmd = sev_issue_cmd {
            cmd: id,
            data,
            error: 0,
        };
        // SAFETY: every caller passes 0 or the address of a live parameter struct of `id`
        // whose inner addresses are valid for the command.
        let r = unsafe { self.transport().sev_issue_cmd(&mut cmd) };
        (r, cmd.error)
    }

    /// `SNP_PLATFORM_STATUS`.
    pub fn snp_status(&self) -> Result<SnpPlatformStatus> {
        let c = Command::LIBSEV_CMD_SNP_PLATFORM_STATUS;
        self.require_device(c)?;
        let mut s = sev_user_data_snp_status::default();
        let (r, fw) = self.snp_issue(snp_user_cmd::PLATFORM_STATUS, ptr(&mut s));
        finish(c, r, fw, String::new)?;
        let flags = s.flags;
        Ok(SnpPlatformStatus {
            api_major: s.api_major,
            api_minor: s.api_minor,
            state: s.state,
            rmp_initialized: s.is_rmp_initialized & 1 != 0,
            build_id: s.build_id,
            mask_chip_id: flags & 1 != 0,
            mask_chip_key: flags & 2 != 0,
            vlek_en: flags & 4 != 0,
            guest_count: s.guest_count,
            current_tcb: s.current_tcb_version,
            reported_tcb: s.reported_tcb_version,
        })
    }

    /// `SNP_COMMIT`: the current firmware and TCB become the minimum (anti-rollback).
    pub fn snp_commit(&self) -> Result<()> {
        let c = Command::LIBSEV_CMD_SNP_COMMIT;
        self.require_device(c)?;
        let (r, fw) = self.snp_issue(snp_user_cmd::COMMIT, 0);
        finish(c, r, fw, String::new)
    }

    /// `SNP_SET_CONFIG`: the REPORTED_TCB (0 = the committed TCB; at most the committed TCB)
    /// and whether reports mask the chip id and the chip key.
    pub fn snp_set_config(
        &self,
        reported_tcb: u64,
        mask_chip_id: bool,
        mask_chip_key: bool,
    ) -> Result<()> {
        let c = Command::LIBSEV_CMD_SNP_SET_CONFIG;
        self.require_device(c)?;
        let mut d = sev_user_data_snp_config {
            reported_tcb,
            flags: mask_chip_id as u32 | (mask_chip_key as u32) << 1,
            ..Default::default()
        };
        let (r, fw) = self.snp_issue(snp_user_cmd::SET_CONFIG, ptr(&mut d));
        finish(c, r, fw, || format!(" (reported TCB {reported_tcb:#018x})"))
    }

    /// `SNP_VLEK_LOAD` of a 432-byte wrapped VLEK hash stick.
    pub fn snp_vlek_load(&self, wrapped: &[u8]) -> Result<()> {
        let c = Command::LIBSEV_CMD_SNP_VLEK_LOAD;
        self.require_device(c)?;
        if wrapped.len() != snp_sizes::VLEK_WRAPPED {
            return Err(Error::new(
                Status::LIBSEV_STATUS_INVALID_LENGTH,
                format!(
                    "SNP_VLEK_LOAD: the wrapped VLEK is {} bytes, not 432",
                    wrapped.len()
                ),
            )
            .with_command(c));
        }
        let mut d = sev_user_data_snp_vlek_load {
            len: 16,
            vlek_wrapped_version: 0,
            rsvd: [0; 3],
            vlek_wrapped_address: wrapped.as_ptr() as u64,
        };
        let (r, fw) = self.snp_issue(snp_user_cmd::VLEK_LOAD, ptr(&mut d));
        finish(c, r, fw, String::new)
    }
}
