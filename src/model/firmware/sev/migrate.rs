//! Migration in the emulated firmware: SEND_START / SEND_UPDATE_DATA / SEND_FINISH /
//! SEND_CANCEL and RECEIVE_UPDATE_DATA / RECEIVE_FINISH (`sev-spec` §2.7, §3, §4.8, §4.9).
//! RECEIVE_START is [`Firmware::start`] with [`crate::model::firmware::sev::guest::Start::Receive`].

use crate::certs::{AmdCert, SevCert, Usage};
use crate::model::FwResult;
use crate::model::firmware::crypto::ct_eq;
use crate::model::firmware::sev::channel::{
    CTX_DATA, Channel, FLAG_COMPRESSED, HDR_LEN, PacketHeader, create_client, packet_mac,
    peer_dh_key,
};
use crate::model::firmware::sev::guest::{Act, GState, Guest, policy};
use crate::model::firmware::{CERT_LEN, CHAIN_LEN, Firmware, FwState, PState, cert_status};
use crate::model::mem::memcrypt;
use crate::status::fw;
use sha2::{Digest, Sha384};

const SESSION_LEN: usize = crate::model::firmware::sev::channel::SESSION_LEN;
const PACKET_MAX: usize = 0x5000;

/// The ASK ‖ ARK sizes `amd_cert_chain_length_is_valid` accepts: both 4096-bit, both
/// 2048-bit, and the two mixed sizes (64-byte headers, exponent and modulus of each key, the
/// ASK signed by the ARK).
fn amd_chain_len_ok(n: usize) -> bool {
    let len = |ask: usize, ark: usize| 2 * 64 + 2 * ask + 4 * ark;
    [len(512, 512), len(256, 256), len(256, 512), len(512, 256)].contains(&n)
}

fn parse(cert: &[u8]) -> FwResult<SevCert> {
    SevCert::from_bytes(cert).map_err(|_| fw::INVALID_LENGTH)
}

fn body(cert: &SevCert, usage: u32) -> FwResult<p384::PublicKey> {
    cert.check_body(usage).map_err(|_| fw::INVALID_CERTIFICATE)
}

/// What SEND_START needs from the platform, taken under the platform lock.
struct SendCtx {
    pdh: p384::SecretKey,
    oca: SevCert,
}

impl Firmware {
    /// `validate_platform` (policy SEV): the receiver's chain up to this firmware's ARK.
    fn validate_platform(&self, pdh: &[u8], plat: &[u8], amd: &[u8], pol: u32) -> FwResult<()> {
        if plat.len() != CHAIN_LEN || !amd_chain_len_ok(amd.len()) || pdh.len() != CERT_LEN {
            return Err(fw::INVALID_LENGTH);
        }
        let (ask, ark) = AmdCert::parse_ask_ark(amd).map_err(|_| fw::INVALID_CERTIFICATE)?;
        if ark.key_usage() != crate::certs::amd::USAGE_ARK
            || ask.key_usage() != crate::certs::amd::USAGE_ASK
        {
            return Err(fw::INVALID_CERTIFICATE);
        }
        ark.verify_signed_by(&ark).map_err(cert_status)?;
        if ark.key_id() != self.ark.key_id()
            || Sha384::digest(ark.signed_bytes()) != Sha384::digest(self.ark.signed_bytes())
        {
            return Err(fw::INVALID_CERTIFICATE);
        }
        ask.verify_signed_by(&ark).map_err(cert_status)?;
        let pek = parse(&plat[..CERT_LEN])?;
        let cek = parse(&plat[2 * CERT_LEN..])?;
        let pdh = parse(pdh)?;
        let cek_pk = body(&cek, Usage::CEK)?;
        cek.verify_by_ask(&ask).map_err(cert_status)?;
        let pek_pk = body(&pek, Usage::PEK)?;
        pek.verify_ecdsa(Usage::CEK, &cek_pk).map_err(cert_status)?;
        body(&pdh, Usage::PDH)?;
        pdh.verify_ecdsa(Usage::PEK, &pek_pk).map_err(cert_status)?;
        if (pek.api_major(), pek.api_minor()) < policy::api(pol) {
            return Err(fw::POLICY_FAILURE);
        }
        Ok(())
    }

    /// `validate_domain` (policy DOMAIN): the receiver's OCA → PEK → PDH, and the receiver's
    /// OCA must be this platform's.
    fn validate_domain(&self, pdh: &[u8], plat: &[u8], local_oca: &SevCert) -> FwResult<()> {
        if plat.len() != CHAIN_LEN || pdh.len() != CERT_LEN {
            return Err(fw::INVALID_LENGTH);
        }
        let pek = parse(&plat[..CERT_LEN])?;
        let oca = parse(&plat[CERT_LEN..2 * CERT_LEN])?;
        let pdh = parse(pdh)?;
        let oca_pk = body(&oca, Usage::OCA)?;
        oca.verify_ecdsa(Usage::OCA, &oca_pk).map_err(cert_status)?;
        let pek_pk = body(&pek, Usage::PEK)?;
        pek.verify_ecdsa(Usage::OCA, &oca_pk).map_err(cert_status)?;
        body(&pdh, Usage::PDH)?;
        pdh.verify_ecdsa(Usage::PEK, &pek_pk).map_err(cert_status)?;
        if oca.as_bytes() != local_oca.as_bytes() {
            return Err(fw::POLICY_FAILURE);
        }
        Ok(())
    }

    /// SEND_START (0x40). `session_len` is in/out; on success the policy is returned.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn send_start(
        &self,
        handle: u32,
        pdh_cert: Option<&[u8]>,
        plat_certs: Option<&[u8]>,
        amd_certs: Option<&[u8]>,
        session_out: Option<&mut [u8]>,
        session_len: &mut u32,
    ) -> FwResult<u32> {
        let (cell, ctx) = {
            let st = self.state();
            if st.pstate != PState::Working {
                return Err(fw::INVALID_PLATFORM_STATE);
            }
            let cell = st.guests.get(&handle).cloned().ok_or(fw::INVALID_GUEST)?;
            let id = &st.ident;
            let (Some(pdh), Some(oca)) = (&id.pdh, &id.oca) else {
                return Err(fw::INVALID_PLATFORM_STATE);
            };
            (
                cell,
                SendCtx {
                    pdh: pdh.key.clone(),
                    oca: oca.cert.clone(),
                },
            )
        };
        let mut g = Self::lock_guest(&cell)?;
        let Some(session_out) = session_out.filter(|_| *session_len as usize == SESSION_LEN) else {
            *session_len = SESSION_LEN as u32;
            return Err(fw::INVALID_LENGTH);
        };
        if g.state != GState::Running {
            return Err(fw::INVALID_GUEST_STATE);
        }
        let pol = g.policy;
        if pol & policy::NOSEND != 0 {
            return Err(fw::POLICY_FAILURE);
        }
        let (pdh, plat, amd) = (
            pdh_cert.unwrap_or(&[]),
            plat_certs.unwrap_or(&[]),
            amd_certs.unwrap_or(&[]),
        );
        if pol & policy::SEV != 0 {
            self.validate_platform(pdh, plat, amd, pol)?;
        }
        if pol & policy::DOMAIN != 0 {
            self.validate_domain(pdh, plat, &ctx.oca)?;
        }
        if pdh.len() != CERT_LEN {
            return Err(fw::INVALID_LENGTH);
        }
        let peer = peer_dh_key(pdh)?;
        let (ch, blob) = create_client(&ctx.pdh, &peer, pol, &mut self.rng());
        g.ch = ch;
        g.state = GState::SUpdate;
        session_out[..SESSION_LEN].copy_from_slice(&blob);
        *session_len = SESSION_LEN as u32;
        Ok(pol)
    }

    /// SEND_UPDATE_DATA (0x41): `guest_len` bytes of guest memory, decrypted with the guest
    /// key and re-encrypted with the TEK, MACed with the TIK. `hdr_len` is in/out.
    ///
    /// # Safety
    /// `[guest_addr, guest_addr + guest_len)` must be valid memory of this process, used by
    /// nobody else during the call.
    #[allow(clippy::too_many_arguments)]
    pub(crate) unsafe fn send_update_data(
        &self,
        handle: u32,
        hdr_out: Option<&mut [u8]>,
        hdr_len: &mut u32,
        guest_addr: u64,
        guest_len: u32,
        trans_out: Option<&mut [u8]>,
        trans_len: u32,
    ) -> FwResult<()> {
        let Some(hdr_out) = hdr_out.filter(|_| *hdr_len as usize >= HDR_LEN) else {
            *hdr_len = HDR_LEN as u32;
            return Err(fw::INVALID_LENGTH);
        };
        let cell = self.guest(handle)?;
        let g = Self::lock_guest(&cell)?;
        if g.state != GState::SUpdate {
            return Err(fw::INVALID_GUEST_STATE);
        }
        if g.act == Act::Inactive {
            return Err(fw::INACTIVE);
        }
        let n = guest_len as usize;
        if n == 0 || n > PACKET_MAX || n % 16 != 0 || trans_len == 0 || trans_len < guest_len {
            return Err(fw::INVALID_LENGTH);
        }
        if guest_addr % 16 != 0 {
            return Err(fw::INVALID_ADDRESS);
        }
        let out = trans_out
            .and_then(|t| t.get_mut(..n))
            .ok_or(fw::INVALID_LENGTH)?;
        // SAFETY: the caller's contract.
        let mem = unsafe { memcrypt::guest_mem(guest_addr, n) };
        // Decrypted with the guest key and encrypted with the TEK in one pass straight into
        // the (firmware-side) transport buffer: no bounce buffer.
        let iv: [u8; 16] = self.rng().bytes();
        g.vek.decrypt_then_ctr(guest_addr, mem, out, &g.ch.tek, &iv);
        let mac = packet_mac(&g.ch.tik, CTX_DATA, 0, &iv, guest_len, guest_len, out, None);
        hdr_out[..HDR_LEN].copy_from_slice(&PacketHeader { flags: 0, iv, mac }.to_bytes());
        *hdr_len = HDR_LEN as u32;
        Ok(())
    }

    /// SEND_FINISH (0x43): SUPDATE → SENT; SEND_CANCEL (0x44): SUPDATE → RUNNING. The
    /// transport keys are wiped.
    pub(crate) fn send_end(&self, handle: u32, cancel: bool) -> FwResult<()> {
        self.with_guest(handle, |_st: &mut FwState, g: &mut Guest| {
            if g.state != GState::SUpdate {
                return Err(fw::INVALID_GUEST_STATE);
            }
            g.ch = Channel::default();
            g.state = if cancel {
                GState::Running
            } else {
                GState::Sent
            };
            Ok(())
        })
    }

    /// RECEIVE_UPDATE_DATA (0x51): verify the packet's MAC (nothing is written on a bad
    /// MAC), decrypt with the TEK, write encrypted with the guest key.
    ///
    /// # Safety
    /// `[guest_addr, guest_addr + guest_len)` must be valid memory of this process, used by
    /// nobody else during the call.
    pub(crate) unsafe fn receive_update_data(
        &self,
        handle: u32,
        hdr: &[u8],
        guest_addr: u64,
        guest_len: u32,
        trans: &[u8],
    ) -> FwResult<()> {
        let cell = self.guest(handle)?;
        let g = Self::lock_guest(&cell)?;
        if g.state != GState::RUpdate {
            return Err(fw::INVALID_GUEST_STATE);
        }
        if g.act == Act::Inactive {
            return Err(fw::INACTIVE);
        }
        let n = guest_len as usize;
        let t = trans.len();
        if t == 0 || t > PACKET_MAX || n == 0 || n != t || n % 16 != 0 || hdr.len() < HDR_LEN {
            return Err(fw::INVALID_LENGTH);
        }
        if guest_addr % 16 != 0 {
            return Err(fw::INVALID_ADDRESS);
        }
        let h = PacketHeader::parse(hdr);
        if h.flags & FLAG_COMPRESSED != 0 {
            return Err(fw::UNSUPPORTED);
        }
        // The packet usually comes from another core's cache or from memory.
        memcrypt::prefetch(trans);
        let mac = packet_mac(
            &g.ch.tik, CTX_DATA, h.flags, &h.iv, t as u32, t as u32, trans, None,
        );
        if !ct_eq(&mac, &h.mac) {
            return Err(fw::BAD_MEASUREMENT);
        }
        // SAFETY: the caller's contract.
        let mem = unsafe { memcrypt::guest_mem(guest_addr, n) };
        // TEK decryption and guest-key encryption in one pass straight into guest memory
        // (the plaintext never leaves the registers with AES-NI, never reaches the heap
        // without).
        g.vek
            .ctr_then_encrypt(guest_addr, trans, mem, &g.ch.tek, &h.iv);
        Ok(())
    }

    /// RECEIVE_FINISH (0x53): RUPDATE → RUNNING; the pending activation completes.
    pub(crate) fn receive_finish(&self, handle: u32) -> FwResult<()> {
        self.finish_to_running(handle, GState::RUpdate)
    }
}
