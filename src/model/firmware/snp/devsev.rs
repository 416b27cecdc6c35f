//! The PSP driver's SNP ioctls on `/dev/sev` (`sev-spec` SNP §2.8): SNP_PLATFORM_STATUS,
//! SNP_COMMIT, SNP_SET_CONFIG, SNP_VLEK_LOAD, on the firmware's SNP_PLATFORM_STATUS /
//! SNP_COMMIT / SNP_CONFIG / SNP_VLEK_LOAD (§3.3). The driver initialises SNP (before legacy
//! SEV) when it initialises the platform; a status or commit request while SNP is not
//! initialised makes the driver initialise the platform first (as newer kernels do) and
//! fails with `EINVAL` if SNP still is not (legacy SEV was initialised first).

use super::fw::{SnpFw, st};
use crate::model::FwResult;
use crate::model::firmware::crypto::kdf;
use crate::model::firmware::lock;
use crate::model::kernel::platform::ModelPlatform;
use crate::model::kernel::uaccess::{Fail, copy_from_user, issued, read_struct, write_struct};
use crate::status::fw;
use crate::uapi::snp::{
    sev_user_data_snp_config, sev_user_data_snp_status, sev_user_data_snp_vlek_load, snp_sizes,
    snp_user_cmd,
};
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use zeroize::Zeroizing;

/// PLATFORM_STATUS flag bits.
const VLEK_EN: u32 = 1 << 2;
const FEATURE_INFO: u32 = 1 << 3;

impl SnpFw {
    /// SNP_PLATFORM_STATUS (no platform-state check).
    pub(crate) fn platform_status(&self) -> sev_user_data_snp_status {
        let s = lock(&self.st);
        let flags = s.mask_chip_id as u32
            | (s.mask_chip_key as u32) << 1
            | if s.vlek.is_some() { VLEK_EN } else { 0 }
            | FEATURE_INFO;
        sev_user_data_snp_status {
            api_major: self.api.0,
            api_minor: self.api.1,
            state: s.init as u8,
            is_rmp_initialized: s.init as u8,
            build_id: self.api.2 as u32,
            flags,
            guest_count: s.guests.len() as u32,
            current_tcb_version: s.current_tcb,
            reported_tcb_version: s.reported_tcb(),
        }
    }

    /// The VLEK wrapping key of this chip (the model's stand-in for AMD's).
    fn vlek_wrapping_key(&self) -> Zeroizing<[u8; 32]> {
        let mut k = Zeroizing::new([0u8; 32]);
        kdf(&self.chip_secret[..], b"vlek-wrapping-key", &[], &mut k[..]);
        k
    }

    /// SNP_VLEK_LOAD of a 432-byte wrapped hash stick.
    pub(crate) fn vlek_load(&self, blob: &[u8; snp_sizes::VLEK_WRAPPED]) -> FwResult<()> {
        if blob[12..16]
            .iter()
            .chain(&blob[0x198..0x1A0])
            .any(|b| *b != 0)
        {
            return Err(fw::INVALID_PARAM);
        }
        let tcb = u64::from_le_bytes(blob[0x190..0x198].try_into().unwrap());
        if tcb != lock(&self.st).reported_tcb() {
            return Err(st::BAD_SVN);
        }
        let key = self.vlek_wrapping_key();
        let gcm = Aes256Gcm::new_from_slice(&key[..]).map_err(|_| fw::INVALID_PARAM)?;
        let mut data = Zeroizing::new(blob[0x10..0x190].to_vec());
        gcm.decrypt_in_place_detached(
            Nonce::from_slice(&blob[..12]),
            &blob[0x190..0x1A0],
            &mut data,
            Tag::from_slice(&blob[0x1A0..0x1B0]),
        )
        .map_err(|_| fw::BAD_MEASUREMENT)?;
        let mut stick = Zeroizing::new([0u8; 48]);
        stick.copy_from_slice(&data[7 * 48..8 * 48]);
        lock(&self.st).vlek = Some((stick, tcb));
        Ok(())
    }

    /// Wrap hash sticks for this chip as AMD's key server would (model-defined format of
    /// SNP_VLEK_LOAD's blob), bound to `tcb`.
    pub(crate) fn wrap_vlek(
        &self,
        sticks: &[u8; 0x180],
        tcb: u64,
        iv: [u8; 12],
    ) -> [u8; snp_sizes::VLEK_WRAPPED] {
        let mut b = [0u8; snp_sizes::VLEK_WRAPPED];
        b[..12].copy_from_slice(&iv);
        b[0x190..0x198].copy_from_slice(&tcb.to_le_bytes());
        let key = self.vlek_wrapping_key();
        let gcm = Aes256Gcm::new_from_slice(&key[..]).expect("32-byte key");
        let mut data = sticks.to_vec();
        let aad = b[0x190..0x1A0].to_vec();
        let tag = gcm
            .encrypt_in_place_detached(Nonce::from_slice(&iv), &aad, &mut data)
            .expect("GCM encryption of 384 bytes");
        b[0x10..0x190].copy_from_slice(&data);
        b[0x1A0..0x1B0].copy_from_slice(&tag);
        b
    }
}

impl ModelPlatform {
    /// A VLEK blob for SNP_VLEK_LOAD on this model chip: `sticks` (8 × 48 bytes, the VLEK
    /// derived from the last) wrapped with the chip's model wrapping key, bound to `tcb`
    /// (SNP_VLEK_LOAD refuses it with BAD_SVN unless `tcb` is the REPORTED_TCB).
    pub fn snp_wrap_vlek(&self, sticks: &[u8; 0x180], tcb: u64) -> [u8; snp_sizes::VLEK_WRAPPED] {
        self.snp.wrap_vlek(sticks, tcb, self.snp.rand())
    }

    /// The driver's SNP initialisation: SNP_INIT if SNP and legacy SEV are both UNINIT.
    pub(crate) fn snp_init_locked(&self) {
        let legacy_uninit = self.fw.state().pstate == crate::model::firmware::PState::Uninit;
        if !self.snp.is_init() && legacy_uninit {
            let _ = self.snp.init(true);
        }
    }

    /// `sev_ioctl` for the SNP commands (9..=12), with the driver's mutex held.
    pub(crate) fn snp_issue(&self, id: u32, data: u64, error: &mut u32) -> Result<(), Fail> {
        match id {
            snp_user_cmd::PLATFORM_STATUS | snp_user_cmd::COMMIT => {
                if !self.snp.is_init() {
                    self.init_locked_pub(error)?;
                    if !self.snp.is_init() {
                        return Err(Fail::Os(libc::EINVAL));
                    }
                }
                if id == snp_user_cmd::COMMIT {
                    return issued(error, self.snp.commit(crate::uapi::snp::SNP_COMMIT_LENGTH));
                }
                let s = issued(error, Ok(self.snp.platform_status()))?;
                write_struct(data, &s)?;
                Ok(())
            }
            snp_user_cmd::SET_CONFIG => {
                let c: sev_user_data_snp_config = read_struct(data)?;
                let rsvd = c.rsvd1.iter().any(|b| *b != 0);
                issued(error, self.snp.config(c.reported_tcb, c.flags, rsvd))
            }
            snp_user_cmd::VLEK_LOAD => {
                let v: sev_user_data_snp_vlek_load = read_struct(data)?;
                if v.len != 16 || v.vlek_wrapped_version != 0 {
                    return Err(Fail::Os(libc::EINVAL));
                }
                let blob = copy_from_user(v.vlek_wrapped_address, snp_sizes::VLEK_WRAPPED)?;
                issued(error, self.snp.vlek_load(&blob.try_into().unwrap()))
            }
            _ => Err(Fail::Os(libc::EINVAL)),
        }
    }
}
