//! The SEV launch commands of a [`Guest`]: LAUNCH_START, LAUNCH_UPDATE_DATA,
//! LAUNCH_MEASURE, LAUNCH_SECRET, LAUNCH_FINISH, and GET_ATTESTATION_REPORT (which reports
//! the launch digest).

use super::{Fetched, Guest, fixed};
use crate::api::marshal::{PacketIn, finish_query, len_u32, non_null, reported_len, uaddr};
use crate::api::platform::{MAX_QUERY_LEN, ptr};
use crate::error::{Error, Result};
use crate::status::{Command, Status};
use crate::uapi::{
    kvm_cmd, kvm_sev_attestation_report, kvm_sev_launch_measure, kvm_sev_launch_secret,
    kvm_sev_launch_start, kvm_sev_launch_update_data, sizes,
};

pub(crate) use crate::api::pieces::UPDATE_CHUNK;

impl Guest {
    /// `LAUNCH_START`: a new launch context with `policy`; `share_handle` 0 for a new key, or
    /// the handle of a guest to share the key with; `godh` (the owner's DH certificate) and
    /// `session` (the launch blob) both present for a secure channel, or both absent.
    /// Returns (and remembers) the new handle.
    pub fn launch_start(
        &mut self,
        policy: u32,
        share_handle: u32,
        godh: Option<&[u8]>,
        session: Option<&[u8]>,
    ) -> Result<u32> {
        let c = Command::LIBSEV_CMD_LAUNCH_START;
        self.platform.require_device(c)?;
        let godh = godh.unwrap_or(&[]);
        let session = session.unwrap_or(&[]);
        let mut d = kvm_sev_launch_start {
            handle: share_handle,
            policy,
            dh_uaddr: uaddr(godh),
            dh_len: len_u32(c, "the GODH certificate", godh.len())?,
            pad0: 0,
            session_uaddr: uaddr(session),
            session_len: len_u32(c, "the session blob", session.len())?,
            pad1: 0,
        };
        // SAFETY: the struct is live; its addresses are 0 or readable slices of the given
        // lengths that outlive the call.
        let (r, fw) = unsafe { self.op(kvm_cmd::LAUNCH_START, ptr(&mut d)) };
        let h = d.handle;
        self.done(c, r, fw, || format!(" (handle {h}, policy {policy:#x})"))?;
        self.handle = h;
        Ok(h)
    }

    /// `LAUNCH_UPDATE_DATA`: measure and encrypt `[addr, addr + len)` in place (zero copy).
    /// Ranges longer than the 32-bit length field are issued in 2 GiB pieces. The firmware
    /// requires 16-byte alignment of address and length.
    ///
    /// # Safety
    /// `addr..addr+len` must be mapped, writable memory of this process, not accessed by
    /// anyone else during the call (it is rewritten as ciphertext).
    pub unsafe fn launch_update_data(&mut self, addr: *mut u8, len: usize) -> Result<()> {
        let c = Command::LIBSEV_CMD_LAUNCH_UPDATE_DATA;
        let base = non_null(c, "the guest memory pointer", addr)?;
        crate::api::pieces::check_update_range(c, base, len)?;
        let mut off = 0usize;
        loop {
            let n = (len - off).min(UPDATE_CHUNK);
            let mut d = kvm_sev_launch_update_data {
                uaddr: base + off as u64,
                len: n as u32,
                pad0: 0,
            };
            // SAFETY: the range is within the caller's region (function contract).
            let (r, fw) = unsafe { self.op(kvm_cmd::LAUNCH_UPDATE_DATA, ptr(&mut d)) };
            self.done(c, r, fw, || format!(" ({n} bytes)"))?;
            off += n;
            if off >= len {
                return Ok(());
            }
        }
    }

    /// The length-query half of `LAUNCH_MEASURE` (no state change).
    pub fn launch_measure_len(&mut self) -> Result<usize> {
        let c = Command::LIBSEV_CMD_LAUNCH_MEASURE;
        let mut q = kvm_sev_launch_measure::default();
        // SAFETY: a query (uaddr 0, len 0): only `len` is written back.
        let (r, fw) = unsafe { self.op(kvm_cmd::LAUNCH_MEASURE, ptr(&mut q)) };
        let ql = q.len;
        finish_query(c, r, fw, self.hint(), || format!("{ql} bytes"))?;
        reported_len(c, "the measurement", ql, MAX_QUERY_LEN)
    }

    /// `LAUNCH_MEASURE` straight into `buf`: one call when `buf` holds the 48-byte
    /// measurement (MEASURE ‖ MNONCE; the guest moves to LSECRET), only the length query
    /// otherwise ([`Fetched::TooSmall`], the guest unchanged).
    pub fn launch_measure_into(&mut self, buf: &mut [u8]) -> Result<Fetched> {
        let c = Command::LIBSEV_CMD_LAUNCH_MEASURE;
        self.fetch_into(sizes::MEASUREMENT, buf, Self::launch_measure_len, |g, b| {
            let mut d = kvm_sev_launch_measure {
                uaddr: b.as_mut_ptr() as u64,
                len: len_u32(c, "the measurement buffer", b.len())?,
                pad0: 0,
            };
            // SAFETY: uaddr points to `len` writable bytes (b) that outlive the call.
            let (r, fw) = unsafe { g.op(kvm_cmd::LAUNCH_MEASURE, ptr(&mut d)) };
            let got = (d.len as usize).min(b.len());
            g.done(c, r, fw, || format!(" ({got} bytes)"))?;
            Ok(got)
        })
    }

    /// `LAUNCH_MEASURE`: the 48-byte launch measurement (MEASURE ‖ MNONCE); the guest moves to
    /// LSECRET. One firmware call (see [`Guest::launch_measure_into`]).
    pub fn launch_measure(&mut self) -> Result<[u8; sizes::MEASUREMENT]> {
        let c = Command::LIBSEV_CMD_LAUNCH_MEASURE;
        let mut buf = [0u8; sizes::MEASUREMENT];
        let got = match self.launch_measure_into(&mut buf)? {
            Fetched::Written(n) | Fetched::TooSmall(n) => n,
        };
        fixed(c, "measurement", &buf, got)
    }

    /// `LAUNCH_SECRET`: inject a secret packet (header, encrypted payload) into guest memory at
    /// `guest` (`guest_len` bytes, rewritten in place).
    ///
    /// # Safety
    /// `guest..guest+guest_len` must be mapped, writable memory of this process, not accessed
    /// by others during the call.
    pub unsafe fn launch_secret(
        &mut self,
        hdr: &[u8],
        guest: *mut u8,
        guest_len: usize,
        trans: &[u8],
    ) -> Result<()> {
        let c = Command::LIBSEV_CMD_LAUNCH_SECRET;
        let p = PacketIn::new(c, hdr, guest, guest_len, trans, "the encrypted secret")?;
        // SAFETY: the guest range is the caller's (contract).
        unsafe { self.packet_in::<kvm_sev_launch_secret>(c, kvm_cmd::LAUNCH_SECRET, p) }
    }

    /// `LAUNCH_FINISH`: the guest becomes RUNNING.
    pub fn launch_finish(&mut self) -> Result<()> {
        self.simple(Command::LIBSEV_CMD_LAUNCH_FINISH, kvm_cmd::LAUNCH_FINISH)
    }

    /// The length-query half of `GET_ATTESTATION_REPORT`.
    pub fn attestation_report_len(&mut self, mnonce: [u8; 16]) -> Result<usize> {
        let c = Command::LIBSEV_CMD_GET_ATTESTATION_REPORT;
        let mut q = kvm_sev_attestation_report {
            mnonce,
            ..Default::default()
        };
        // SAFETY: a query (uaddr 0, len 0): only `len` is written back.
        let (r, fw) = unsafe { self.op(kvm_cmd::GET_ATTESTATION_REPORT, ptr(&mut q)) };
        let ql = q.len;
        finish_query(c, r, fw, self.hint(), || format!("{ql} bytes"))?;
        reported_len(c, "the attestation report", ql, MAX_QUERY_LEN)
    }

    /// `GET_ATTESTATION_REPORT` with the caller's nonce straight into `buf`: one call when
    /// `buf` holds the 208-byte report, only the length query otherwise.
    pub fn attestation_report_into(&mut self, mnonce: [u8; 16], buf: &mut [u8]) -> Result<Fetched> {
        let c = Command::LIBSEV_CMD_GET_ATTESTATION_REPORT;
        let query = |g: &mut Self| g.attestation_report_len(mnonce);
        self.fetch_into(sizes::ATTESTATION_REPORT, buf, query, |g, b| {
            let mut d = kvm_sev_attestation_report {
                mnonce,
                uaddr: b.as_mut_ptr() as u64,
                len: len_u32(c, "the report buffer", b.len())?,
                pad0: 0,
            };
            // SAFETY: uaddr points to `len` writable bytes (b) that outlive the call.
            let (r, fw) = unsafe { g.op(kvm_cmd::GET_ATTESTATION_REPORT, ptr(&mut d)) };
            let got = (d.len as usize).min(b.len());
            g.done(c, r, fw, || format!(" ({got} bytes)"))?;
            Ok(got)
        })
    }

    /// `GET_ATTESTATION_REPORT` with the caller's nonce (one firmware call when the report has
    /// its usual size).
    pub fn attestation_report(&mut self, mnonce: [u8; 16]) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; sizes::ATTESTATION_REPORT];
        match self.attestation_report_into(mnonce, &mut buf)? {
            Fetched::Written(n) => buf.truncate(n),
            Fetched::TooSmall(n) => {
                buf = vec![0u8; n];
                match self.attestation_report_into(mnonce, &mut buf)? {
                    Fetched::Written(n) => buf.truncate(n),
                    Fetched::TooSmall(n) => {
                        return Err(Error::new(
                            Status::LIBSEV_STATUS_FW_INVALID_LENGTH,
                            format!("GET_ATTESTATION_REPORT: the report size changed to {n}"),
                        )
                        .with_command(Command::LIBSEV_CMD_GET_ATTESTATION_REPORT));
                    }
                }
            }
        }
        Ok(buf)
    }
}
