//! SEV-ES in the emulated firmware: LAUNCH_UPDATE_VMSA (0x32) and the per-guest VMSA records
//! (snp-spec §1.8, sev-spec §2.7).
//!
//! Check order (AMD's `launch_update_common(…, is_vmsa)`): the length (exactly 4096) before
//! anything else, then the platform state, the handle, the guest state (LUPDATE), the ES
//! policy bit (UNSUPPORTED), activation (INACTIVE) and the address alignment. Then the
//! unmodified page is appended to the launch digest, a checksum slot is taken from the
//! Trusted Memory Region (RESOURCE_LIMIT when none is left — the digest stays advanced, as the
//! firmware does not roll its hash back), `zeros` (0x380) and `crc_paddr` (0x388) are written,
//! the CRC-64 of the first 0xFC0 bytes is recorded and the page is encrypted in place with the
//! guest's key. The guest state does not change.
//!
//! Model choices: the TMR is a counter of [`TMR_VMSA_SLOTS`] 8-byte checksum slots at a
//! made-up base address; the checksum is CRC-64 with the ECMA-182 polynomial (the firmware's
//! exact variant is not visible to the host: the TMR is firmware memory and the VMSA is
//! encrypted).

use crate::model::FwResult;
use crate::model::firmware::Firmware;
use crate::model::firmware::sev::guest::{Act, GState, policy};
use crate::status::fw;
use crate::uapi::vmsa::{VMSA_SIZE, off};
use sha2::Digest;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The SEV-ES TMR (1 MiB) as 8-byte checksum slots.
pub(crate) const TMR_VMSA_SLOTS: usize = (1 << 20) / 8;
/// Where the model pretends the TMR is (system-physical; never dereferenced).
const TMR_BASE: u64 = 0x0000_00FF_F000_0000;
/// Bytes of a legacy SEV-ES VMSA the checksum covers (`VMSA_CRC_SIZE`).
pub(crate) const VMSA_CRC_LEN: usize = 0xFC0;

/// What the firmware keeps for one launched VMSA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VmsaRecord {
    /// The VMSA's address as given to LAUNCH_UPDATE_VMSA.
    pub(crate) paddr: u64,
    /// The TMR address of its checksum (also written at VMSA offset 0x388).
    pub(crate) crc_paddr: u64,
    pub(crate) crc: u64,
}

/// The guest's VMSAs in launch order, holding their TMR slots until the guest is freed.
#[derive(Debug, Default)]
pub(crate) struct EsVcpus {
    pub(crate) records: Vec<VmsaRecord>,
    pool: Option<Arc<AtomicUsize>>,
}

impl Drop for EsVcpus {
    fn drop(&mut self) {
        if let Some(p) = &self.pool {
            p.fetch_sub(self.records.len(), Ordering::AcqRel);
        }
    }
}

/// CRC-64/ECMA-182 (polynomial 0x42F0E1EBA9EA3693, no reflection, init 0, no final XOR).
pub(crate) fn crc64(data: &[u8]) -> u64 {
    const POLY: u64 = 0x42F0_E1EB_A9EA_3693;
    let mut crc = 0u64;
    for b in data {
        crc ^= (*b as u64) << 56;
        for _ in 0..8 {
            crc = if crc & (1 << 63) != 0 {
                (crc << 1) ^ POLY
            } else {
                crc << 1
            };
        }
    }
    crc
}

impl Firmware {
    /// LAUNCH_UPDATE_VMSA (0x32) on the page at `paddr` (`page` is that memory).
    pub(crate) fn launch_update_vmsa(
        &self,
        handle: u32,
        paddr: u64,
        page: &mut [u8; VMSA_SIZE],
        len: u32,
    ) -> FwResult<()> {
        if len as usize != VMSA_SIZE {
            return Err(fw::INVALID_LENGTH);
        }
        let cell = self.guest(handle)?;
        let mut g = Self::lock_guest(&cell)?;
        if g.state != GState::LUpdate {
            return Err(fw::INVALID_GUEST_STATE);
        }
        if g.policy & policy::ES == 0 {
            return Err(fw::UNSUPPORTED);
        }
        if g.act == Act::Inactive {
            return Err(fw::INACTIVE);
        }
        if paddr % 16 != 0 {
            return Err(fw::INVALID_ADDRESS);
        }
        let g = &mut *g;
        g.ld_ctx
            .as_mut()
            .ok_or(fw::INVALID_GUEST_STATE)?
            .update(&page[..]);
        let pool = Arc::clone(&self.tmr_vmsa_used);
        let slot = pool.fetch_add(1, Ordering::AcqRel);
        if slot >= TMR_VMSA_SLOTS {
            pool.fetch_sub(1, Ordering::AcqRel);
            return Err(fw::RESOURCE_LIMIT);
        }
        g.es.pool.get_or_insert(pool);
        let crc_paddr = TMR_BASE + 8 * slot as u64;
        page[off::FW_ZEROS..off::FW_ZEROS + 8].fill(0);
        page[off::FW_CRC_PADDR..off::FW_CRC_PADDR + 8].copy_from_slice(&crc_paddr.to_le_bytes());
        let crc = crc64(&page[..VMSA_CRC_LEN]);
        g.vek.crypt_in_place(paddr, &mut page[..], true);
        g.es.records.push(VmsaRecord {
            paddr,
            crc_paddr,
            crc,
        });
        Ok(())
    }

    /// The VMSAs the firmware recorded for a guest, in launch order.
    #[cfg(test)]
    pub(crate) fn vmsa_records(&self, handle: u32) -> FwResult<Vec<VmsaRecord>> {
        let cell = self.guest(handle)?;
        let g = Self::lock_guest(&cell)?;
        Ok(g.es.records.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::firmware::crypto::ModelRng;
    use crate::model::firmware::identity::Identity;
    use crate::model::firmware::sev::guest::Start;
    use zeroize::Zeroizing;

    #[test]
    fn crc64_ecma182_check_value() {
        // The catalogue check value of CRC-64/ECMA-182 over "123456789".
        assert_eq!(crc64(b"123456789"), 0x6C40_DF5F_0B49_7347);
    }

    /// A platform with 4 SEV-ES ASIDs (1..=4) and 4 SEV ones, INIT'ed with ES and flushed.
    fn fw() -> Firmware {
        let f = Firmware::new(
            (1, 55, 25),
            4,
            Zeroizing::new([9; 32]),
            Identity::default(),
            ModelRng::new(Some(&[8; 32])),
            None,
        );
        f.init(true).unwrap();
        f.df_flush().unwrap();
        f
    }

    #[repr(C, align(4096))]
    struct Page([u8; VMSA_SIZE]);

    #[test]
    fn checks_in_the_firmware_order_then_measure_record_encrypt() {
        let f = fw();
        let mut p = Box::new(Page([0x5A; VMSA_SIZE]));
        let addr = p.0.as_ptr() as u64;
        // The length first, even before the platform state and the handle.
        assert_eq!(
            f.launch_update_vmsa(77, addr, &mut p.0, 4095),
            Err(fw::INVALID_LENGTH)
        );
        // No guest yet: the platform is INIT, not WORKING.
        assert_eq!(
            f.launch_update_vmsa(77, addr, &mut p.0, 4096),
            Err(fw::INVALID_PLATFORM_STATE)
        );
        let sev = f.start(Start::Launch, 0, 0, None, None).unwrap();
        assert_eq!(
            f.launch_update_vmsa(77, addr, &mut p.0, 4096),
            Err(fw::INVALID_GUEST)
        );
        let es = f.start(Start::Launch, 0, policy::ES, None, None).unwrap();
        // Not activated yet: the ES check comes before the activation check.
        assert_eq!(
            f.launch_update_vmsa(sev, addr, &mut p.0, 4096),
            Err(fw::UNSUPPORTED)
        );
        assert_eq!(
            f.launch_update_vmsa(es, addr, &mut p.0, 4096),
            Err(fw::INACTIVE)
        );
        // An SEV-ES guest takes an ASID below min_sev_asid only.
        assert_eq!(f.activate(es, 5), Err(fw::INVALID_ASID));
        f.activate(es, 1).unwrap();
        assert_eq!(
            f.launch_update_vmsa(es, addr + 8, &mut p.0, 4096),
            Err(fw::INVALID_ADDRESS)
        );
        assert!(p.0.iter().all(|b| *b == 0x5A), "nothing written on failure");

        let before = f.tmr_vmsa_used.load(Ordering::Acquire);
        f.launch_update_vmsa(es, addr, &mut p.0, 4096).unwrap();
        let rec = f.vmsa_records(es).unwrap();
        assert_eq!(rec.len(), 1);
        assert_eq!(rec[0].paddr, addr);
        assert_eq!(f.tmr_vmsa_used.load(Ordering::Acquire), before + 1);
        // Encrypted in place; decrypted, it holds the firmware's two fields.
        assert_ne!(p.0[..16], [0x5A; 16]);
        let cell = f.guest(es).unwrap();
        let g = Firmware::lock_guest(&cell).unwrap();
        let mut plain = p.0;
        g.vek.crypt_in_place(addr, &mut plain, false);
        assert_eq!(plain[off::FW_ZEROS..off::FW_ZEROS + 8], [0; 8]);
        assert_eq!(
            plain[off::FW_CRC_PADDR..off::FW_CRC_PADDR + 8],
            rec[0].crc_paddr.to_le_bytes()
        );
        assert_eq!(rec[0].crc, crc64(&plain[..VMSA_CRC_LEN]));
        assert_eq!(plain[..0x380], [0x5A; 0x380]);
        // The digest covered the unmodified page.
        let mut want = sha2::Sha256::new();
        want.update([0x5A; VMSA_SIZE]);
        assert_eq!(
            g.ld_ctx.clone().unwrap().finalize(),
            want.finalize(),
            "SHA-256 of the page as handed in"
        );
        drop(g);
        // Decommission gives the TMR slot back.
        f.deactivate(es).unwrap();
        f.decommission(es).unwrap();
        assert_eq!(f.tmr_vmsa_used.load(Ordering::Acquire), before);
    }

    #[test]
    fn a_full_tmr_is_resource_limit_after_the_digest_update() {
        let f = fw();
        let es = f.start(Start::Launch, 0, policy::ES, None, None).unwrap();
        f.activate(es, 2).unwrap();
        f.tmr_vmsa_used.store(TMR_VMSA_SLOTS, Ordering::Release);
        let mut p = Box::new(Page([1; VMSA_SIZE]));
        let addr = p.0.as_ptr() as u64;
        assert_eq!(
            f.launch_update_vmsa(es, addr, &mut p.0, 4096),
            Err(fw::RESOURCE_LIMIT)
        );
        assert_eq!(p.0, [1; VMSA_SIZE], "not encrypted");
        let cell = f.guest(es).unwrap();
        let g = Firmware::lock_guest(&cell).unwrap();
        let empty: [u8; 32] = sha2::Sha256::new().finalize().into();
        let now: [u8; 32] = g.ld_ctx.clone().unwrap().finalize().into();
        assert_ne!(now, empty, "the digest stays advanced");
    }
}
