//! The emulated firmware: platform state machine, persistent identity, guest table and ASID
//! bookkeeping, and the platform commands of `sev-spec` §2.5 plus ACTIVATE, DEACTIVATE,
//! DECOMMISSION, GUEST_STATUS and DF_FLUSH (§2.7, §2.8).
//!
//! Each firmware command is a method returning [`FwResult`]; the PSP driver and KVM layers
//! (`devsev.rs`, `vm*.rs`) turn statuses into errno + `error` exactly as the kernel does.
//!
//! Locking: `st` (platform state, identity, guest table, ASIDs) is held only for short
//! bookkeeping; each guest has its own mutex for the heavy work (memory encryption, hashing),
//! taken after `st` when both are needed. The random generator's mutex is a leaf.

pub(crate) mod crypto;
pub(crate) mod es;
pub(crate) mod identity;
pub(crate) mod sev;
pub mod snp;
pub(crate) mod store;

use crate::certs::{AmdCert, SevCert, Usage};
use crate::log::Level;
use crate::model::FwResult;
use crate::model::firmware::crypto::ModelRng;
use crate::model::firmware::identity::{Chip, Identity, new_oca, new_pdh, new_pek, pek_csr};
use crate::model::firmware::sev::guest::{Act, GState, Guest, GuestCell};
use crate::model::firmware::store::Store;
use crate::sev_log;
use crate::status::fw;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use zeroize::Zeroizing;

/// Highest guest handle (`SEV_GUEST_COUNT_MAX`).
pub(crate) const MAX_GUESTS: usize = 1024;
/// Size of an SEV certificate.
pub(crate) const CERT_LEN: usize = 0x824;
/// PEK ‖ OCA ‖ CEK.
pub(crate) const CHAIN_LEN: usize = 3 * CERT_LEN;
/// GET_ID output per socket.
pub(crate) const ID_LEN: usize = 64;

/// Platform states (`enum sev_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PState {
    Uninit = 0,
    Init = 1,
    Working = 2,
}

/// The firmware's view of one ASID (§2.8, single-CCX model).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AsidSt {
    /// Usable by ACTIVATE.
    Clean,
    /// Needs DF_FLUSH first (after INIT, or after a running guest was deactivated).
    Dirty,
    /// Bound to a pending guest.
    Allocated,
    /// Bound to a running guest.
    InUse,
}

/// Everything behind the platform lock.
pub(crate) struct FwState {
    pub(crate) pstate: PState,
    /// INIT was done with CONFIG.ES (the PSP driver always asks for it, as on SEV-ES parts).
    pub(crate) es: bool,
    pub(crate) ident: Identity,
    pub(crate) guests: BTreeMap<u32, Arc<GuestCell>>,
    /// Index = ASID (0 unused).
    pub(crate) asids: Vec<AsidSt>,
}

/// PLATFORM_STATUS output.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PlatformStatus {
    pub(crate) api_major: u8,
    pub(crate) api_minor: u8,
    pub(crate) state: u8,
    pub(crate) owner: u8,
    pub(crate) config_es: u8,
    pub(crate) build: u8,
    pub(crate) guest_count: u32,
}

/// The emulated AMD Secure Processor.
pub(crate) struct Firmware {
    /// API major, minor, build.
    pub(crate) api: (u8, u8, u8),
    /// Guest slots: min(ASIDs, 1024).
    pub(crate) slots: usize,
    pub(crate) chip: Chip,
    chip_seed: Zeroizing<[u8; 32]>,
    rng: Mutex<ModelRng>,
    store: Option<Store>,
    st: Mutex<FwState>,
    /// The model's AMD root (test only).
    pub(crate) ark: AmdCert,
    /// The first SEV (non-ES) ASID; SEV-ES guests use `1..min_sev_asid`.
    pub(crate) min_sev_asid: u32,
    /// SEV-ES TMR checksum slots in use (`firmware/es`).
    pub(crate) tmr_vmsa_used: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

/// Lock a mutex, ignoring poisoning (a panic elsewhere leaves consistent data: every state
/// change is a single assignment after all checks).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Firmware {
    pub(crate) fn new(
        api: (u8, u8, u8),
        n_asids: u32,
        chip_seed: Zeroizing<[u8; 32]>,
        ident: Identity,
        rng: ModelRng,
        store: Option<Store>,
    ) -> Firmware {
        let chip = Chip::derive(&chip_seed);
        let ark =
            AmdCert::from_bytes(crate::certs::sev::test_root::ARK_CERT).expect("built-in test ARK");
        Firmware {
            api,
            slots: (n_asids as usize).min(MAX_GUESTS),
            chip,
            chip_seed,
            rng: Mutex::new(rng),
            store,
            st: Mutex::new(FwState {
                pstate: PState::Uninit,
                es: false,
                ident,
                guests: BTreeMap::new(),
                // SEV-ES ASIDs 1..=n, SEV ASIDs n+1..=2n.
                asids: vec![AsidSt::Dirty; 2 * n_asids as usize + 1],
            }),
            ark,
            tmr_vmsa_used: Default::default(),
            min_sev_asid: n_asids + 1,
        }
    }

    /// The API version as it goes into certificates.
    pub(crate) fn api2(&self) -> (u8, u8) {
        (self.api.0, self.api.1)
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, FwState> {
        lock(&self.st)
    }

    pub(crate) fn rng(&self) -> MutexGuard<'_, ModelRng> {
        lock(&self.rng)
    }

    /// Make `new` the identity, saving it first when there is a state directory; on a
    /// failed save the old identity stays (HWERROR_PLATFORM, and a warning in the log).
    fn commit_identity(&self, st: &mut FwState, new: Identity) -> FwResult<()> {
        if let Some(store) = &self.store {
            if let Err(e) = store.save(&self.chip_seed, &new) {
                sev_log!(Level::LIBSEV_LOG_ERROR, "{}", e.message);
                return Err(fw::HWERROR_PLATFORM);
            }
        }
        st.ident = new;
        Ok(())
    }

    /// Save the chip seed (first use of a state directory), keeping the identity as is.
    pub(crate) fn save_initial(&self) -> crate::Result<()> {
        match &self.store {
            Some(store) => store.save(&self.chip_seed, &self.state().ident),
            None => Ok(()),
        }
    }

    /// Create whatever identity is missing: an OCA forces a new PEK, a PEK a new PDH.
    fn complete_identity(&self, cur: &Identity) -> Option<Identity> {
        let api = self.api2();
        let mut id = cur.clone();
        let mut changed = false;
        let mut rng = self.rng();
        if id.oca.is_none() {
            id.oca = Some(new_oca(&mut rng, api));
            id.pek = None;
            id.external = false;
            changed = true;
        }
        if id.pek.is_none() {
            let oca = id.oca.as_ref().and_then(|o| o.key.as_ref());
            let Some(oca) = oca else {
                // An external OCA without a PEK cannot happen (the store refuses it).
                return None;
            };
            id.pek = Some(new_pek(&mut rng, api, oca, &self.chip.cek));
            id.pdh = None;
            changed = true;
        }
        if id.pdh.is_none() {
            let pek = &id.pek.as_ref().expect("PEK exists").key;
            id.pdh = Some(new_pdh(&mut rng, api, pek));
            changed = true;
        }
        changed.then_some(id)
    }

    // ----- platform commands ---------------------------------------------------------------

    /// INIT (0x01): UNINIT → INIT.
    pub(crate) fn init(&self, es: bool) -> FwResult<()> {
        let mut st = self.state();
        if st.pstate != PState::Uninit {
            return Err(fw::INVALID_PLATFORM_STATE);
        }
        if let Some(new) = self.complete_identity(&st.ident) {
            self.commit_identity(&mut st, new)?;
        }
        for a in st.asids.iter_mut() {
            *a = AsidSt::Dirty;
        }
        st.es = es;
        st.pstate = PState::Init;
        Ok(())
    }

    /// SHUTDOWN (0x02): any state → UNINIT; every guest is gone.
    pub(crate) fn shutdown(&self) -> FwResult<()> {
        let mut st = self.state();
        for cell in std::mem::take(&mut st.guests).into_values() {
            lock(&cell).free();
        }
        for a in st.asids.iter_mut() {
            *a = AsidSt::Dirty;
        }
        st.es = false;
        st.pstate = PState::Uninit;
        Ok(())
    }

    /// PLATFORM_RESET (0x03): UNINIT only; deletes the persistent identity (the CEK stays).
    pub(crate) fn platform_reset(&self) -> FwResult<()> {
        let mut st = self.state();
        if st.pstate != PState::Uninit {
            return Err(fw::INVALID_PLATFORM_STATE);
        }
        self.commit_identity(&mut st, Identity::default())
    }

    /// PLATFORM_STATUS (0x04).
    pub(crate) fn platform_status(&self) -> PlatformStatus {
        let st = self.state();
        let up = st.pstate != PState::Uninit;
        PlatformStatus {
            api_major: self.api.0,
            api_minor: self.api.1,
            state: st.pstate as u8,
            owner: (up && st.ident.external) as u8,
            config_es: (up && st.es) as u8,
            build: self.api.2,
            guest_count: if up { st.guests.len() as u32 } else { 0 },
        }
    }

    /// PEK_GEN (0x05): INIT only; new self-owned OCA, PEK and PDH.
    pub(crate) fn pek_gen(&self) -> FwResult<()> {
        let mut st = self.state();
        if st.pstate != PState::Init {
            return Err(fw::INVALID_PLATFORM_STATE);
        }
        let new = self
            .complete_identity(&Identity::default())
            .expect("a fresh identity is always created");
        self.commit_identity(&mut st, new)
    }

    /// PEK_CSR (0x06): INIT or WORKING. `len` is in/out; `out` is the caller's buffer of
    /// `len` bytes (absent when the address is 0).
    pub(crate) fn pek_csr(&self, out: Option<&mut [u8]>, len: &mut u32) -> FwResult<()> {
        let st = self.state();
        if st.pstate == PState::Uninit {
            return Err(fw::INVALID_PLATFORM_STATE);
        }
        let Some(out) = out.filter(|_| *len as usize >= CERT_LEN) else {
            *len = CERT_LEN as u32;
            return Err(fw::INVALID_LENGTH);
        };
        let pek = &st
            .ident
            .pek
            .as_ref()
            .ok_or(fw::INVALID_PLATFORM_STATE)?
            .cert;
        out[..CERT_LEN].copy_from_slice(pek_csr(pek).as_bytes());
        *len = CERT_LEN as u32;
        Ok(())
    }

    /// PEK_CERT_IMPORT (0x07): INIT only; take ownership with an external OCA.
    pub(crate) fn pek_cert_import(&self, pek: &[u8], oca: &[u8]) -> FwResult<()> {
        let mut st = self.state();
        if st.pstate != PState::Init {
            return Err(fw::INVALID_PLATFORM_STATE);
        }
        if st.ident.external {
            return Err(fw::ALREADY_OWNED);
        }
        if pek.len() != CERT_LEN || oca.len() != CERT_LEN {
            return Err(fw::INVALID_LENGTH);
        }
        let oca = SevCert::from_bytes(oca).map_err(|_| fw::INVALID_LENGTH)?;
        let new_pek = SevCert::from_bytes(pek).map_err(|_| fw::INVALID_LENGTH)?;
        let oca_pk = oca
            .check_body(Usage::OCA)
            .map_err(|_| fw::INVALID_CERTIFICATE)?;
        oca.verify_ecdsa(Usage::OCA, &oca_pk).map_err(cert_status)?;
        new_pek
            .check_body(Usage::PEK)
            .map_err(|_| fw::INVALID_CERTIFICATE)?;
        new_pek
            .verify_ecdsa(Usage::OCA, &oca_pk)
            .map_err(cert_status)?;
        let cur = st.ident.pek.as_ref().ok_or(fw::INVALID_PLATFORM_STATE)?;
        if new_pek.body() != cur.cert.body() {
            return Err(fw::INVALID_CERTIFICATE);
        }
        // Put the CEK signature of the current PEK into the imported PEK's free slot.
        let cek_slot = (0..2)
            .find(|s| cur.cert.sig_slot(*s).0 == Usage::CEK)
            .ok_or(fw::INVALID_CERTIFICATE)?;
        let free = (0..2)
            .find(|s| new_pek.slot_is_empty(*s))
            .ok_or(fw::INVALID_CERTIFICATE)?;
        let mut merged = new_pek;
        merged.copy_slot_from(free, &cur.cert, cek_slot);
        let mut new = st.ident.clone();
        new.oca = Some(crate::model::firmware::identity::Oca {
            key: None,
            cert: oca,
        });
        new.pek.as_mut().expect("PEK exists").cert = merged;
        let pek_key = new.pek.as_ref().expect("PEK exists").key.clone();
        new.pdh = Some(new_pdh(&mut self.rng(), self.api2(), &pek_key));
        new.external = true;
        self.commit_identity(&mut st, new)
    }

    /// PDH_CERT_EXPORT (0x08): INIT or WORKING. Both lengths are in/out.
    pub(crate) fn pdh_cert_export(
        &self,
        pdh_out: Option<&mut [u8]>,
        pdh_len: &mut u32,
        chain_out: Option<&mut [u8]>,
        chain_len: &mut u32,
    ) -> FwResult<()> {
        let st = self.state();
        if st.pstate == PState::Uninit {
            return Err(fw::INVALID_PLATFORM_STATE);
        }
        let ok = (*pdh_len as usize) >= CERT_LEN && (*chain_len as usize) >= CHAIN_LEN;
        let (Some(pdh_out), Some(chain_out), true) = (pdh_out, chain_out, ok) else {
            *pdh_len = CERT_LEN as u32;
            *chain_len = CHAIN_LEN as u32;
            return Err(fw::INVALID_LENGTH);
        };
        let id = &st.ident;
        let (Some(pdh), Some(pek), Some(oca)) = (&id.pdh, &id.pek, &id.oca) else {
            return Err(fw::INVALID_PLATFORM_STATE);
        };
        pdh_out[..CERT_LEN].copy_from_slice(pdh.cert.as_bytes());
        chain_out[..CERT_LEN].copy_from_slice(pek.cert.as_bytes());
        chain_out[CERT_LEN..2 * CERT_LEN].copy_from_slice(oca.cert.as_bytes());
        chain_out[2 * CERT_LEN..CHAIN_LEN]
            .copy_from_slice(self.chip.cek_cert(self.api2()).as_bytes());
        *pdh_len = CERT_LEN as u32;
        *chain_len = CHAIN_LEN as u32;
        Ok(())
    }

    /// PDH_GEN (0x09): INIT or WORKING; a new PDH.
    pub(crate) fn pdh_gen(&self) -> FwResult<()> {
        let mut st = self.state();
        if st.pstate == PState::Uninit {
            return Err(fw::INVALID_PLATFORM_STATE);
        }
        let mut new = st.ident.clone();
        let pek = new
            .pek
            .as_ref()
            .ok_or(fw::INVALID_PLATFORM_STATE)?
            .key
            .clone();
        new.pdh = Some(new_pdh(&mut self.rng(), self.api2(), &pek));
        self.commit_identity(&mut st, new)
    }

    /// DF_FLUSH (0x0A): every dirty ASID becomes clean (WBINVD is assumed done, as Linux
    /// always does it first).
    pub(crate) fn df_flush(&self) -> FwResult<()> {
        let mut st = self.state();
        for a in st.asids.iter_mut() {
            if *a == AsidSt::Dirty {
                *a = AsidSt::Clean;
            }
        }
        Ok(())
    }

    /// GET_ID (0x0C): any state. `len` in/out; one socket.
    pub(crate) fn get_id(&self, out: Option<&mut [u8]>, len: &mut u32) -> FwResult<()> {
        let Some(out) = out.filter(|_| *len as usize >= ID_LEN) else {
            *len = ID_LEN as u32;
            return Err(fw::INVALID_LENGTH);
        };
        out[..ID_LEN].copy_from_slice(&self.chip.id);
        *len = ID_LEN as u32;
        Ok(())
    }

    // ----- guest table -----------------------------------------------------------------------

    /// The guest behind `handle`; the platform must be WORKING.
    pub(crate) fn guest(&self, handle: u32) -> FwResult<Arc<GuestCell>> {
        let st = self.state();
        if st.pstate != PState::Working {
            return Err(fw::INVALID_PLATFORM_STATE);
        }
        st.guests.get(&handle).cloned().ok_or(fw::INVALID_GUEST)
    }

    /// Lock a guest found by [`Firmware::guest`]; INVALID_GUEST if it was decommissioned in
    /// between.
    pub(crate) fn lock_guest(cell: &GuestCell) -> FwResult<MutexGuard<'_, Guest>> {
        let g = lock(cell);
        if g.state == GState::Uninit {
            return Err(fw::INVALID_GUEST);
        }
        Ok(g)
    }

    /// Insert a new guest under the lowest free handle: RESOURCE_LIMIT when all slots are
    /// taken. The platform becomes WORKING.
    pub(crate) fn insert_guest(
        st: &mut FwState,
        slots: usize,
        make: impl FnOnce(u32) -> Guest,
    ) -> FwResult<u32> {
        if st.guests.len() >= slots {
            return Err(fw::RESOURCE_LIMIT);
        }
        let handle = (1..=MAX_GUESTS as u32)
            .find(|h| !st.guests.contains_key(h))
            .ok_or(fw::RESOURCE_LIMIT)?;
        st.guests.insert(handle, Arc::new(Mutex::new(make(handle))));
        st.pstate = PState::Working;
        Ok(handle)
    }

    /// ACTIVATE (0x21).
    pub(crate) fn activate(&self, handle: u32, asid: u32) -> FwResult<()> {
        let mut st = self.state();
        if st.pstate != PState::Working {
            return Err(fw::INVALID_PLATFORM_STATE);
        }
        let cell = st.guests.get(&handle).cloned().ok_or(fw::INVALID_GUEST)?;
        let mut g = Self::lock_guest(&cell)?;
        let slot = st
            .asids
            .get(asid as usize)
            .copied()
            .filter(|_| asid != 0)
            .ok_or(fw::INVALID_ASID)?;
        if matches!(slot, AsidSt::Allocated | AsidSt::InUse) {
            return Err(fw::ASID_OWNED);
        }
        if g.act != Act::Inactive {
            return Err(fw::ACTIVE);
        }
        if g.state == GState::Sent {
            return Err(fw::INVALID_GUEST_STATE);
        }
        if slot == AsidSt::Dirty {
            return Err(fw::DF_FLUSH_REQUIRED);
        }
        // `sev_es_validate_asid`: an SEV-ES guest below min_sev_asid, an SEV guest from it up.
        if (g.policy & crate::model::firmware::sev::guest::policy::ES != 0)
            != (asid < self.min_sev_asid)
        {
            return Err(fw::INVALID_ASID);
        }
        let running = matches!(g.state, GState::Running | GState::SUpdate);
        g.act = if running { Act::Active } else { Act::Pending };
        g.asid = asid;
        st.asids[asid as usize] = if running {
            AsidSt::InUse
        } else {
            AsidSt::Allocated
        };
        Ok(())
    }

    /// Turn a pending activation into an active one (LAUNCH_FINISH, RECEIVE_FINISH). The
    /// caller holds the platform lock, taken before the guest's (the one lock order).
    pub(crate) fn complete_activation(st: &mut FwState, g: &mut Guest) {
        if g.act == Act::Pending {
            g.act = Act::Active;
            if let Some(a) = st.asids.get_mut(g.asid as usize) {
                *a = AsidSt::InUse;
            }
        }
    }

    /// The guest behind `handle`, locked, with the platform lock held (WORKING required):
    /// for the short commands that change both.
    pub(crate) fn with_guest<T>(
        &self,
        handle: u32,
        f: impl FnOnce(&mut FwState, &mut Guest) -> FwResult<T>,
    ) -> FwResult<T> {
        let mut st = self.state();
        if st.pstate != PState::Working {
            return Err(fw::INVALID_PLATFORM_STATE);
        }
        let cell = st.guests.get(&handle).cloned().ok_or(fw::INVALID_GUEST)?;
        let mut g = Self::lock_guest(&cell)?;
        f(&mut st, &mut g)
    }

    /// DEACTIVATE (0x22).
    pub(crate) fn deactivate(&self, handle: u32) -> FwResult<()> {
        let mut st = self.state();
        if st.pstate != PState::Working {
            return Err(fw::INVALID_PLATFORM_STATE);
        }
        let cell = st.guests.get(&handle).cloned().ok_or(fw::INVALID_GUEST)?;
        let mut g = Self::lock_guest(&cell)?;
        let new = match g.act {
            Act::Inactive => return Err(fw::INACTIVE),
            Act::Pending => AsidSt::Clean,
            Act::Active => AsidSt::Dirty,
        };
        if let Some(a) = st.asids.get_mut(g.asid as usize) {
            *a = new;
        }
        g.act = Act::Inactive;
        g.asid = 0;
        Ok(())
    }

    /// DECOMMISSION (0x20): the slot is freed; the last guest takes the platform back to
    /// INIT.
    pub(crate) fn decommission(&self, handle: u32) -> FwResult<()> {
        let mut st = self.state();
        if st.pstate != PState::Working {
            return Err(fw::INVALID_PLATFORM_STATE);
        }
        let cell = st.guests.get(&handle).cloned().ok_or(fw::INVALID_GUEST)?;
        let mut g = Self::lock_guest(&cell)?;
        if g.act != Act::Inactive {
            return Err(fw::ACTIVE);
        }
        g.free();
        drop(g);
        st.guests.remove(&handle);
        if st.guests.is_empty() {
            st.pstate = PState::Init;
        }
        Ok(())
    }

    /// GUEST_STATUS (0x23): `(policy, asid, state)`; an unknown handle gives all zeros.
    pub(crate) fn guest_status(&self, handle: u32) -> FwResult<(u32, u32, u8)> {
        let st = self.state();
        if st.pstate == PState::Uninit {
            return Err(fw::INVALID_PLATFORM_STATE);
        }
        let Some(cell) = st.guests.get(&handle).cloned() else {
            return Ok((0, 0, 0));
        };
        drop(st);
        let g = lock(&cell);
        Ok((g.policy, g.asid, g.state as u8))
    }
}

/// The firmware status for a certificate check failure (§5.5).
pub(crate) fn cert_status(e: crate::certs::CertError) -> u32 {
    match e {
        crate::certs::CertError::BadSignature(_) => fw::BAD_SIGNATURE,
        _ => fw::INVALID_CERTIFICATE,
    }
}

#[cfg(test)]
mod tests;
