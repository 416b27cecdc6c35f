//! Guests in the emulated firmware: the guest context, LAUNCH_START (and the part it shares
//! with RECEIVE_START), the launch commands, ATTESTATION and DBG_DECRYPT/DBG_ENCRYPT
//! (`sev-spec` §2.6, §2.7, §3, §4.4–4.7, §4.10). Checks run in the firmware's order.

use crate::model::FwResult;
use crate::model::firmware::crypto::{aes128_ctr, ct_eq};
use crate::model::firmware::sev::channel::{
    CTX_SECRET, Channel, FLAG_COMPRESSED, HDR_LEN, PacketHeader, launch_measure_mac, open_server,
    packet_mac,
};
use crate::model::firmware::{Firmware, FwState, PState};
use crate::model::mem::memcrypt::{self, Vek};
use crate::status::fw;
use p384::ecdsa::signature::hazmat::PrehashSigner;
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};
use zeroize::Zeroizing;

/// Guest states (`sev_guest.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GState {
    /// Free slot (also: a context that was decommissioned while someone held it).
    Uninit = 0,
    LUpdate = 1,
    LSecret = 2,
    Running = 3,
    SUpdate = 4,
    RUpdate = 5,
    Sent = 6,
}

/// Activation (orthogonal to the state, §2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Act {
    Inactive,
    /// Key loaded and ASID reserved, not yet runnable (before LAUNCH/RECEIVE_FINISH).
    Pending,
    Active,
}

/// Guest policy bits (§3).
pub(crate) mod policy {
    pub(crate) const NODBG: u32 = 1 << 0;
    pub(crate) const NOKS: u32 = 1 << 1;
    pub(crate) const ES: u32 = 1 << 2;
    pub(crate) const NOSEND: u32 = 1 << 3;
    pub(crate) const DOMAIN: u32 = 1 << 4;
    pub(crate) const SEV: u32 = 1 << 5;
    /// Bits 6–15.
    pub(crate) const RESERVED: u32 = 0xFFC0;

    /// The minimum firmware API version `(major, minor)` the policy asks for.
    pub(crate) fn api(p: u32) -> (u8, u8) {
        ((p >> 16) as u8, (p >> 24) as u8)
    }
}

/// A guest context.
pub(crate) struct Guest {
    pub(crate) state: GState,
    pub(crate) policy: u32,
    pub(crate) act: Act,
    pub(crate) asid: u32,
    /// Shared between guests that share a key (LAUNCH_START with a handle).
    pub(crate) vek: Arc<Vek>,
    /// The running launch digest (LAUNCH_START → LAUNCH_MEASURE).
    pub(crate) ld_ctx: Option<Sha256>,
    /// The launch digest saved at LAUNCH_MEASURE, for ATTESTATION.
    pub(crate) ld: Option<[u8; 32]>,
    pub(crate) ch: Channel,
    /// SEV-ES: the VMSAs launched so far (`firmware/es`).
    pub(crate) es: crate::model::firmware::es::EsVcpus,
}

/// A guest context behind its own lock.
pub(crate) type GuestCell = Mutex<Guest>;

impl Guest {
    /// Forget everything (DECOMMISSION, SHUTDOWN); the channel keys are wiped.
    pub(crate) fn free(&mut self) {
        self.state = GState::Uninit;
        self.act = Act::Inactive;
        self.ch = Channel::default();
        self.ld_ctx = None;
        // Gives the VMSAs' TMR slots back.
        self.es = Default::default();
    }
}

/// Which start command.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    Launch,
    Receive,
}

const SESSION_LEN: usize = crate::model::firmware::sev::channel::SESSION_LEN;
const SECRET_MAX: usize = 0x5000;
/// The attestation report.
pub(crate) const REPORT_LEN: usize = 0xD0;
/// LAUNCH_MEASURE output.
pub(crate) const MEASURE_LEN: usize = 48;

impl Firmware {
    fn check_policy(&self, p: u32) -> FwResult<()> {
        if policy::api(p) > self.api2() || p & policy::RESERVED != 0 {
            return Err(fw::POLICY_FAILURE);
        }
        Ok(())
    }

    fn pdh_key(&self) -> FwResult<p384::SecretKey> {
        let st = self.state();
        if st.pstate == PState::Uninit {
            return Err(fw::INVALID_PLATFORM_STATE);
        }
        Ok(st
            .ident
            .pdh
            .as_ref()
            .ok_or(fw::INVALID_PLATFORM_STATE)?
            .key
            .clone())
    }

    /// LAUNCH_START (0x30) and RECEIVE_START (0x50): `session`/`dh_cert` are the buffers the
    /// firmware was given (`None` = address 0). Returns the new handle.
    pub(crate) fn start(
        &self,
        kind: Start,
        handle: u32,
        pol: u32,
        dh_cert: Option<&[u8]>,
        session: Option<&[u8]>,
    ) -> FwResult<u32> {
        let pdh = self.pdh_key()?;
        let session = session.unwrap_or(&[]);
        let ch = match (kind, dh_cert) {
            (Start::Launch, None) => Channel::default(),
            (_, cert) => {
                let cert = cert.unwrap_or(&[]);
                if session.len() != SESSION_LEN || cert.len() != crate::model::firmware::CERT_LEN {
                    return Err(fw::INVALID_LENGTH);
                }
                // ECDH and the KDF run without the platform lock.
                let ch = open_server(&pdh, cert, session, pol)?;
                self.check_policy(pol)?;
                ch
            }
        };
        drop(pdh);
        let mut st = self.state();
        if st.pstate == PState::Uninit {
            return Err(fw::INVALID_PLATFORM_STATE);
        }
        let shared = if handle != 0 {
            let cell = st.guests.get(&handle).cloned().ok_or(fw::INVALID_GUEST)?;
            let other = Self::lock_guest(&cell)?;
            if other.policy != pol || other.policy & policy::NOKS != 0 {
                return Err(fw::POLICY_FAILURE);
            }
            Some(other.vek.clone())
        } else {
            None
        };
        if st.guests.len() >= self.slots {
            return Err(fw::RESOURCE_LIMIT);
        }
        if pol & policy::ES != 0 && !st.es {
            return Err(fw::UNSUPPORTED);
        }
        let vek = match shared {
            Some(v) => v,
            None => {
                let k = Zeroizing::new(self.rng().bytes::<32>());
                Arc::new(Vek::from_bytes(&k))
            }
        };
        let (state, ld_ctx) = match kind {
            Start::Launch => (GState::LUpdate, Some(Sha256::new())),
            Start::Receive => (GState::RUpdate, None),
        };
        let slots = self.slots;
        Self::insert_guest(&mut st, slots, move |_| Guest {
            state,
            policy: pol,
            act: Act::Inactive,
            asid: 0,
            vek,
            ld_ctx,
            ld: None,
            ch,
            es: Default::default(),
        })
    }

    /// The platform must be WORKING.
    pub(crate) fn working(&self) -> FwResult<()> {
        if self.state().pstate != PState::Working {
            return Err(fw::INVALID_PLATFORM_STATE);
        }
        Ok(())
    }

    /// LAUNCH_UPDATE_DATA (0x31): measure the plaintext, encrypt it in place.
    ///
    /// # Safety
    /// `[addr, addr + len)` must be valid guest memory of this process, used by nobody else
    /// during the call.
    pub(crate) unsafe fn launch_update_data(
        &self,
        handle: u32,
        addr: u64,
        len: u32,
    ) -> FwResult<()> {
        let cell = self.guest(handle)?;
        let mut g = Self::lock_guest(&cell)?;
        if g.state != GState::LUpdate {
            return Err(fw::INVALID_GUEST_STATE);
        }
        if g.act == Act::Inactive {
            return Err(fw::INACTIVE);
        }
        if addr % 16 != 0 {
            return Err(fw::INVALID_ADDRESS);
        }
        if len == 0 || len % 16 != 0 {
            return Err(fw::INVALID_LENGTH);
        }
        let g = &mut *g;
        let ld = g.ld_ctx.as_mut().ok_or(fw::INVALID_GUEST_STATE)?;
        // SAFETY: the caller's contract; alignment was checked above.
        unsafe { memcrypt::measure_and_encrypt(&g.vek, ld, addr, len as usize) };
        Ok(())
    }

    /// LAUNCH_MEASURE (0x33): `len` is in/out; writes MEASURE ‖ MNONCE.
    pub(crate) fn launch_measure(
        &self,
        handle: u32,
        out: Option<&mut [u8]>,
        len: &mut u32,
    ) -> FwResult<()> {
        let cell = self.guest(handle)?;
        let mut g = Self::lock_guest(&cell)?;
        if g.state != GState::LUpdate {
            return Err(fw::INVALID_GUEST_STATE);
        }
        let Some(out) = out.filter(|_| *len as usize >= MEASURE_LEN) else {
            *len = MEASURE_LEN as u32;
            return Err(fw::INVALID_LENGTH);
        };
        let ld: [u8; 32] = g
            .ld_ctx
            .take()
            .ok_or(fw::INVALID_GUEST_STATE)?
            .finalize()
            .into();
        let mnonce: [u8; 16] = self.rng().bytes();
        let m = launch_measure_mac(&g.ch.tik, self.api, g.policy, &ld, &mnonce);
        g.ld = Some(ld);
        g.ch.measure = Some(m);
        g.state = GState::LSecret;
        out[..32].copy_from_slice(&m);
        out[32..MEASURE_LEN].copy_from_slice(&mnonce);
        *len = MEASURE_LEN as u32;
        Ok(())
    }

    /// LAUNCH_SECRET (0x34): verify the packet's MAC, decrypt with the TEK and write the
    /// secret into guest memory encrypted with the guest key. Nothing is written on any
    /// failure.
    ///
    /// # Safety
    /// `[guest_addr, guest_addr + guest_len)` must be valid guest memory, used by nobody else
    /// during the call.
    pub(crate) unsafe fn launch_secret(
        &self,
        handle: u32,
        hdr: &[u8],
        guest_addr: u64,
        guest_len: u32,
        trans: &[u8],
    ) -> FwResult<()> {
        let cell = self.guest(handle)?;
        if guest_addr % 16 != 0 {
            return Err(fw::INVALID_ADDRESS);
        }
        let n = guest_len as usize;
        if hdr.len() != HDR_LEN || n == 0 || n % 16 != 0 || n > SECRET_MAX || n != trans.len() {
            return Err(fw::INVALID_LENGTH);
        }
        let g = Self::lock_guest(&cell)?;
        if g.state != GState::LSecret {
            return Err(fw::INVALID_GUEST_STATE);
        }
        if g.act == Act::Inactive {
            return Err(fw::INACTIVE);
        }
        let h = PacketHeader::parse(hdr);
        let measure = g.ch.measure.as_ref().filter(|_| self.api2() >= (0, 17));
        let mac = packet_mac(
            &g.ch.tik,
            CTX_SECRET,
            h.flags,
            &h.iv,
            guest_len,
            trans.len() as u32,
            trans,
            measure,
        );
        if !ct_eq(&mac, &h.mac) {
            return Err(fw::BAD_MEASUREMENT);
        }
        let mut buf = Zeroizing::new(trans.to_vec());
        aes128_ctr(&g.ch.tek, &h.iv, &mut buf);
        if h.flags & FLAG_COMPRESSED != 0 {
            return Err(fw::UNSUPPORTED);
        }
        g.vek.crypt_in_place(guest_addr, &mut buf, true);
        // SAFETY: the caller's contract.
        unsafe { memcrypt::guest_mem(guest_addr, n) }.copy_from_slice(&buf);
        Ok(())
    }

    /// LAUNCH_FINISH (0x35): LSECRET → RUNNING; the channel keys are wiped.
    pub(crate) fn launch_finish(&self, handle: u32) -> FwResult<()> {
        self.finish_to_running(handle, GState::LSecret)
    }

    /// LAUNCH_FINISH and RECEIVE_FINISH: from `from` to RUNNING; the pending activation
    /// completes and the channel keys are wiped.
    pub(crate) fn finish_to_running(&self, handle: u32, from: GState) -> FwResult<()> {
        self.with_guest(handle, |st: &mut FwState, g: &mut Guest| {
            if g.state != from {
                return Err(fw::INVALID_GUEST_STATE);
            }
            Self::complete_activation(st, g);
            g.ch = Channel::default();
            g.state = GState::Running;
            Ok(())
        })
    }

    /// ATTESTATION (0x36): the 208-byte report signed by the PEK; `len` in/out.
    pub(crate) fn attestation(
        &self,
        handle: u32,
        mnonce: &[u8; 16],
        out: Option<&mut [u8]>,
        len: &mut u32,
    ) -> FwResult<()> {
        let (cell, pek) = {
            let st = self.state();
            if st.pstate != PState::Working {
                return Err(fw::INVALID_PLATFORM_STATE);
            }
            let cell = st.guests.get(&handle).cloned().ok_or(fw::INVALID_GUEST)?;
            let pek = st
                .ident
                .pek
                .as_ref()
                .ok_or(fw::INVALID_PLATFORM_STATE)?
                .key
                .clone();
            (cell, pek)
        };
        let g = Self::lock_guest(&cell)?;
        if !matches!(
            g.state,
            GState::LSecret | GState::Running | GState::SUpdate | GState::Sent
        ) {
            return Err(fw::INVALID_GUEST_STATE);
        }
        let Some(out) = out.filter(|_| *len as usize >= REPORT_LEN) else {
            *len = REPORT_LEN as u32;
            return Err(fw::INVALID_LENGTH);
        };
        let mut r = [0u8; REPORT_LEN];
        r[..16].copy_from_slice(mnonce);
        r[16..48].copy_from_slice(&g.ld.unwrap_or([0; 32]));
        r[48..52].copy_from_slice(&g.policy.to_le_bytes());
        r[52..56].copy_from_slice(&crate::certs::Usage::PEK.to_le_bytes());
        r[56..60].copy_from_slice(&crate::certs::Algo::ECDSA_SHA256.to_le_bytes());
        let digest = Sha256::digest(&r[..0x34]);
        let sig: p384::ecdsa::Signature = pek
            .sign_prehash(&digest)
            .map_err(|_| fw::HWERROR_PLATFORM)?;
        crate::certs::be_to_le(&sig.r().to_bytes(), &mut r[0x40..0x88]);
        crate::certs::be_to_le(&sig.s().to_bytes(), &mut r[0x88..0xD0]);
        out[..REPORT_LEN].copy_from_slice(&r);
        *len = REPORT_LEN as u32;
        Ok(())
    }

    /// DBG_DECRYPT (0x60) / DBG_ENCRYPT (0x61): guest-key ciphertext at `src` → plaintext at
    /// `dst`, or plaintext at `src` → ciphertext at `dst` (the tweak is always the address of
    /// the encrypted side). No guest-state check (§8 item 8).
    ///
    /// # Safety
    /// Both ranges must be valid memory of this process, used by nobody else during the call.
    pub(crate) unsafe fn dbg_crypt(
        &self,
        handle: u32,
        src: u64,
        dst: u64,
        len: u32,
        decrypt: bool,
    ) -> FwResult<()> {
        self.working()?;
        if src % 16 != 0 || dst % 16 != 0 {
            return Err(fw::INVALID_ADDRESS);
        }
        if len % 16 != 0 {
            return Err(fw::INVALID_LENGTH);
        }
        let cell = self.guest(handle)?;
        let g = Self::lock_guest(&cell)?;
        if g.policy & policy::NODBG != 0 {
            return Err(fw::POLICY_FAILURE);
        }
        if g.act == Act::Inactive {
            return Err(fw::INACTIVE);
        }
        let vek = g.vek.clone();
        // SAFETY: the caller's contract; alignment checked above.
        unsafe { memcrypt::crypt_range(&vek, src, dst, len as usize, !decrypt) };
        Ok(())
    }
}

/// Whether two ranges are the same or do not overlap.
pub(crate) fn same_or_disjoint(a: u64, b: u64, len: u64) -> bool {
    a == b || a.saturating_add(len) <= b || b.saturating_add(len) <= a
}
