//! The SEV migration commands of a [`Guest`]: SEND_* on the source, RECEIVE_* on the target.

use super::{Fetched, Guest};
use crate::api::marshal::{PacketIn, finish_query, len_u32, non_null, reported_len, uaddr};
use crate::api::platform::{MAX_QUERY_LEN, ptr};
use crate::error::{Error, Result};
use crate::status::{Command, Status};
use crate::uapi::{
    kvm_cmd, kvm_sev_receive_start, kvm_sev_receive_update_data, kvm_sev_send_start,
    kvm_sev_send_update_data, sizes,
};

impl Guest {
    /// The length-query half of `SEND_START`: the session blob's size (no state change).
    pub fn send_start_session_len(&mut self) -> Result<usize> {
        let c = Command::LIBSEV_CMD_SEND_START;
        let mut q = kvm_sev_send_start::default();
        // SAFETY: a query (session_len 0): only `session_len` is written back.
        let (r, fw) = unsafe { self.op(kvm_cmd::SEND_START, ptr(&mut q)) };
        let ql = q.session_len;
        finish_query(c, r, fw, self.hint(), || format!("{ql} bytes"))?;
        reported_len(c, "the session blob", ql, MAX_QUERY_LEN)
    }

    /// `SEND_START` with the session blob for the target written straight into `session`:
    /// one call when it holds the 128-byte blob (the guest moves to SUPDATE; the guest's policy
    /// is returned), only the length query otherwise ([`Fetched::TooSmall`], guest unchanged).
    pub fn send_start_into(
        &mut self,
        pdh: &[u8],
        plat_certs: &[u8],
        amd_certs: &[u8],
        session: &mut [u8],
    ) -> Result<(Fetched, u32)> {
        let c = Command::LIBSEV_CMD_SEND_START;
        let pdh_len = len_u32(c, "the target PDH", pdh.len())?;
        let plat_len = len_u32(c, "the platform chain", plat_certs.len())?;
        let amd_len = len_u32(c, "the AMD chain", amd_certs.len())?;
        let mut policy = 0;
        let fetched = self.fetch_into(
            sizes::SESSION,
            session,
            Self::send_start_session_len,
            |g, b| {
                let mut d = kvm_sev_send_start {
                    pdh_cert_uaddr: uaddr(pdh),
                    pdh_cert_len: pdh_len,
                    plat_certs_uaddr: uaddr(plat_certs),
                    plat_certs_len: plat_len,
                    amd_certs_uaddr: uaddr(amd_certs),
                    amd_certs_len: amd_len,
                    session_uaddr: b.as_mut_ptr() as u64,
                    session_len: len_u32(c, "the session buffer", b.len())?,
                    ..Default::default()
                };
                // SAFETY: the certificate addresses are 0 or readable slices; the session
                // buffer is writable for `session_len` bytes; all outlive the call.
                let (r, fw) = unsafe { g.op(kvm_cmd::SEND_START, ptr(&mut d)) };
                let (got, p) = ((d.session_len as usize).min(b.len()), d.policy);
                g.done(c, r, fw, || format!(" (policy {p:#x})"))?;
                policy = p;
                Ok(got)
            },
        )?;
        Ok((fetched, policy))
    }

    /// `SEND_START`: open the migration channel to the target described by its PDH, its
    /// platform chain (PEK ‖ OCA ‖ CEK) and AMD chain (ASK ‖ ARK). Returns the session blob
    /// for the target and the guest's policy; the guest moves to SUPDATE.
    pub fn send_start(
        &mut self,
        pdh: &[u8],
        plat_certs: &[u8],
        amd_certs: &[u8],
    ) -> Result<(Vec<u8>, u32)> {
        let mut session = vec![0u8; sizes::SESSION];
        loop {
            match self.send_start_into(pdh, plat_certs, amd_certs, &mut session)? {
                (Fetched::Written(n), policy) => {
                    session.truncate(n);
                    return Ok((session, policy));
                }
                (Fetched::TooSmall(n), _) => session = vec![0u8; n],
            }
        }
    }

    /// The packet-header size `SEND_UPDATE_DATA` writes, queried once and cached.
    pub fn send_update_data_hdr_len(&mut self) -> Result<usize> {
        if let Some(n) = self.send_hdr_len {
            return Ok(n);
        }
        let c = Command::LIBSEV_CMD_SEND_UPDATE_DATA;
        let mut q = kvm_sev_send_update_data::default();
        // SAFETY: a query (hdr_len 0, trans_len 0): only the lengths are written back.
        let (r, fw) = unsafe { self.op(kvm_cmd::SEND_UPDATE_DATA, ptr(&mut q)) };
        let ql = q.hdr_len;
        finish_query(c, r, fw, self.hint(), || format!("header {ql} bytes"))?;
        let n = reported_len(c, "the packet header", ql, sizes::PACKET_HEADER)?;
        self.send_hdr_len = Some(n);
        Ok(n)
    }

    /// `SEND_UPDATE_DATA`: re-encrypt `len` bytes of guest memory at `guest` for the target
    /// into `trans_out` (which must hold at least `len` bytes — the firmware checks) and write
    /// the packet header to `hdr_out` (which must hold the header:
    /// [`Guest::send_update_data_hdr_len`]). Both are written in place: nothing is allocated
    /// or copied.
    ///
    /// # Safety
    /// `guest..guest+len` must be mapped, readable memory of this process.
    pub unsafe fn send_update_data(
        &mut self,
        guest: *const u8,
        len: usize,
        hdr_out: &mut [u8],
        trans_out: &mut [u8],
    ) -> Result<()> {
        let c = Command::LIBSEV_CMD_SEND_UPDATE_DATA;
        let guest_uaddr = non_null(c, "the guest memory pointer", guest)?;
        let guest_len = len_u32(c, "the guest range", len)?;
        let trans_len = len_u32(c, "the transport buffer", trans_out.len())?;
        let hdr_len = self.send_update_data_hdr_len()?;
        if hdr_out.len() < hdr_len {
            return Err(Error::new(
                Status::LIBSEV_STATUS_BUFFER_TOO_SMALL,
                format!(
                    "{}: the header buffer holds {} bytes, the packet header needs {hdr_len}",
                    c.name(),
                    hdr_out.len()
                ),
            )
            .with_command(c));
        }
        let mut d = kvm_sev_send_update_data {
            hdr_uaddr: hdr_out.as_mut_ptr() as u64,
            hdr_len: hdr_len as u32,
            pad0: 0,
            guest_uaddr,
            guest_len,
            pad1: 0,
            trans_uaddr: uaddr(trans_out),
            trans_len,
            pad2: 0,
        };
        // SAFETY: hdr_out holds >= hdr_len bytes, trans_out `trans_len` writable bytes; the
        // guest range is the caller's (contract).
        let (r, fw) = unsafe { self.op(kvm_cmd::SEND_UPDATE_DATA, ptr(&mut d)) };
        self.done(c, r, fw, || format!(" ({len} bytes)"))
    }

    /// `SEND_FINISH`: the guest becomes SENT.
    pub fn send_finish(&mut self) -> Result<()> {
        self.simple(Command::LIBSEV_CMD_SEND_FINISH, kvm_cmd::SEND_FINISH)
    }

    /// `SEND_CANCEL`: abandon the migration; the guest returns to RUNNING.
    pub fn send_cancel(&mut self) -> Result<()> {
        self.simple(Command::LIBSEV_CMD_SEND_CANCEL, kvm_cmd::SEND_CANCEL)
    }

    /// `RECEIVE_START`: accept an incoming guest (`pdh` = the source's PDH as the firmware
    /// checks it, `session` = the blob from the source's `SEND_START`). Returns (and
    /// remembers) the new handle.
    pub fn receive_start(
        &mut self,
        policy: u32,
        pdh: &[u8],
        session: &[u8],
        share_handle: u32,
    ) -> Result<u32> {
        let c = Command::LIBSEV_CMD_RECEIVE_START;
        self.platform.require_device(c)?;
        let mut d = kvm_sev_receive_start {
            handle: share_handle,
            policy,
            pdh_uaddr: uaddr(pdh),
            pdh_len: len_u32(c, "the PDH certificate", pdh.len())?,
            pad0: 0,
            session_uaddr: uaddr(session),
            session_len: len_u32(c, "the session blob", session.len())?,
            pad1: 0,
        };
        // SAFETY: both addresses are 0 or readable slices that outlive the call.
        let (r, fw) = unsafe { self.op(kvm_cmd::RECEIVE_START, ptr(&mut d)) };
        let h = d.handle;
        self.done(c, r, fw, || format!(" (handle {h}, policy {policy:#x})"))?;
        self.handle = h;
        Ok(h)
    }

    /// `RECEIVE_UPDATE_DATA`: decrypt one packet from the source into guest memory at `guest`.
    ///
    /// # Safety
    /// `guest..guest+guest_len` must be mapped, writable memory of this process, not accessed
    /// by others during the call.
    pub unsafe fn receive_update_data(
        &mut self,
        hdr: &[u8],
        guest: *mut u8,
        guest_len: usize,
        trans: &[u8],
    ) -> Result<()> {
        let c = Command::LIBSEV_CMD_RECEIVE_UPDATE_DATA;
        let p = PacketIn::new(c, hdr, guest, guest_len, trans, "the transport data")?;
        // SAFETY: the guest range is the caller's (contract).
        unsafe { self.packet_in::<kvm_sev_receive_update_data>(c, kvm_cmd::RECEIVE_UPDATE_DATA, p) }
    }

    /// `RECEIVE_FINISH`: the guest becomes RUNNING.
    pub fn receive_finish(&mut self) -> Result<()> {
        self.simple(Command::LIBSEV_CMD_RECEIVE_FINISH, kvm_cmd::RECEIVE_FINISH)
    }
}
