//! [`Guest`]: one SEV VM and its `KVM_MEMORY_ENCRYPT_OP` commands, marshalled into the exact
//! `kvm_sev_*` structs of the kernel ABI (`sev-spec` §1.4) and issued through the seam.
//!
//! libsev checks only what is plainly a caller error (NULL pointers, lengths that do not fit
//! the kernel's 32-bit fields). Alignment, lengths the firmware defines and every state check
//! are left to the kernel and the firmware (or the model), so the same code path runs on real
//! hardware and in the model.

use super::marshal::{finish, finish_hinted, finish_query, len_u32, non_null, reported_len, uaddr};
use super::platform::{MAX_QUERY_LEN, Platform, ptr};
use crate::error::{Error, Result};
use crate::status::{Command, Status};
use crate::transport::{Backend, Errno, VmTransport};
use crate::uapi::{
    kvm_cmd, kvm_enc_region, kvm_sev_attestation_report, kvm_sev_cmd, kvm_sev_dbg,
    kvm_sev_guest_status, kvm_sev_init, kvm_sev_launch_measure, kvm_sev_launch_secret,
    kvm_sev_launch_start, kvm_sev_launch_update_data, kvm_sev_receive_start,
    kvm_sev_receive_update_data, kvm_sev_send_start, kvm_sev_send_update_data, sizes,
};
use std::os::fd::RawFd;

/// Largest `LAUNCH_UPDATE_DATA` libsev issues at once; longer ranges are split (the length
/// field is 32 bits). A multiple of 4096, so every piece keeps the first one's alignment.
pub(crate) const UPDATE_CHUNK: usize = 1 << 31;

/// `GUEST_STATUS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestStatus {
    pub handle: u32,
    pub policy: u32,
    /// Firmware guest state: 0 UNINIT, 1 LUPDATE, 2 LSECRET, 3 RUNNING, 4 SUPDATE, 5 RUPDATE,
    /// 6 SENT.
    pub state: u32,
}

const NOT_INITIALISED_HINT: &str = " (libsev has not initialised this guest: call init, es_init \
                                    or init2 first unless the VM fd was initialised already)";

/// One SEV guest: a VM (created by libsev or the caller's) on a [`Platform`].
///
/// Thread safety: a `Guest` is `Send` and used by one thread at a time (every command takes
/// `&mut self`); distinct guests are independent and may run on different threads. The guest
/// keeps its platform alive, so dropping the `Platform` first is fine.
pub struct Guest {
    platform: Platform,
    vm: Box<dyn VmTransport>,
    handle: u32,
    initialized: bool,
    send_hdr_len: Option<usize>,
}

impl std::fmt::Debug for Guest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guest")
            .field("backend", &self.platform.backend())
            .field("vm_fd", &self.vm.vm_fd())
            .field("handle", &self.handle)
            .field("initialized", &self.initialized)
            .finish()
    }
}

impl Guest {
    /// Create a new VM through the platform (KVM: `KVM_CREATE_VM` on `/dev/kvm`, closed when
    /// the guest is dropped; model: a model VM).
    pub fn new(platform: &Platform) -> Result<Guest> {
        let vm = platform.transport().clone().create_vm().map_err(|errno| {
            let mut e = Error::from_command(Command::LIBSEV_CMD_CREATE_VM, errno, 0);
            e.message = format!("creating a VM on /dev/kvm: {}", e.message);
            e
        })?;
        Ok(Self::with_vm(platform, vm))
    }

    /// Use the caller's VM fd; libsev never closes it.
    pub fn attach(platform: &Platform, vm_fd: RawFd) -> Result<Guest> {
        if vm_fd < 0 {
            return Err(Error::arg(format!("the VM fd {vm_fd} is negative"))
                .with_command(Command::LIBSEV_CMD_CREATE_VM));
        }
        let vm = platform
            .transport()
            .clone()
            .attach_vm(vm_fd)
            .map_err(|errno| {
                let mut e = Error::from_command(Command::LIBSEV_CMD_CREATE_VM, errno, 0);
                e.message = format!("attaching VM fd {vm_fd}: {}", e.message);
                e
            })?;
        Ok(Self::with_vm(platform, vm))
    }

    /// A guest over any VM transport (tests, other seam implementations).
    pub fn with_vm(platform: &Platform, vm: Box<dyn VmTransport>) -> Guest {
        Guest {
            platform: platform.clone(),
            vm,
            handle: 0,
            initialized: false,
            send_hdr_len: None,
        }
    }

    /// The platform this guest runs on.
    pub fn platform(&self) -> &Platform {
        &self.platform
    }

    /// The VM fd (-1 for a model VM that has none).
    pub fn vm_fd(&self) -> RawFd {
        self.vm.vm_fd()
    }

    /// The VM side of the transport seam.
    pub(crate) fn transport(&self) -> &dyn VmTransport {
        &*self.vm
    }

    /// The firmware handle from `LAUNCH_START`/`RECEIVE_START` (0 before).
    pub fn handle(&self) -> u32 {
        self.handle
    }

    /// Whether `init`, `es_init` or `init2` succeeded through this object.
    pub fn is_initialized(&self) -> bool {
        self.initialized
    }

    /// One `KVM_MEMORY_ENCRYPT_OP`: the ioctl result and the firmware status.
    ///
    /// # Safety
    /// `data` must be 0 or point to the parameter struct of `id`, with every uaddr inside it
    /// valid for the command's reads and writes and not accessed by others during the call.
    unsafe fn op(&self, id: u32, data: u64) -> (Result<(), Errno>, u32) {
        let mut cmd = kvm_sev_cmd {
            id,
            pad0: 0,
            data,
            error: 0,
            sev_fd: self.platform.sev_fd() as u32,
        };
        // SAFETY: forwarded contract.
        let r = unsafe { self.vm.encrypt_op(&mut cmd) };
        (r, cmd.error)
    }

    fn done(
        &self,
        command: Command,
        r: Result<(), Errno>,
        fw: u32,
        detail: impl FnOnce() -> String,
    ) -> Result<()> {
        let init = matches!(
            command,
            Command::LIBSEV_CMD_INIT | Command::LIBSEV_CMD_ES_INIT | Command::LIBSEV_CMD_INIT2
        );
        let hint = if init { None } else { self.hint() };
        finish_hinted(command, r, fw, hint, detail)
    }

    /// A command without parameters.
    fn simple(&mut self, command: Command, id: u32) -> Result<()> {
        // SAFETY: the command takes no parameter struct (data = 0).
        let (r, fw) = unsafe { self.op(id, 0) };
        self.done(command, r, fw, String::new)
    }

    /// `KVM_SEV_INIT`: make the VM an SEV guest (KVM initialises the platform if needed).
    pub fn init(&mut self) -> Result<()> {
        self.simple(Command::LIBSEV_CMD_INIT, kvm_cmd::INIT)?;
        self.initialized = true;
        Ok(())
    }

    /// `KVM_SEV_ES_INIT`: make the VM an SEV-ES guest.
    pub fn es_init(&mut self) -> Result<()> {
        self.simple(Command::LIBSEV_CMD_ES_INIT, kvm_cmd::ES_INIT)?;
        self.initialized = true;
        Ok(())
    }

    /// `KVM_SEV_INIT2` (VMs created with an SEV VM type).
    pub fn init2(&mut self, vmsa_features: u64, ghcb_version: u16) -> Result<()> {
        let c = Command::LIBSEV_CMD_INIT2;
        let mut d = kvm_sev_init {
            vmsa_features,
            flags: 0,
            ghcb_version,
            pad1: 0,
            pad2: [0; 8],
        };
        // SAFETY: data points to a live kvm_sev_init, which holds no addresses.
        let (r, fw) = unsafe { self.op(kvm_cmd::INIT2, ptr(&mut d)) };
        self.done(c, r, fw, String::new)?;
        self.initialized = true;
        Ok(())
    }

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

    /// `LAUNCH_UPDATE_VMSA` (SEV-ES): encrypt and measure every vCPU's VMSA.
    pub fn launch_update_vmsa(&mut self) -> Result<()> {
        self.simple(
            Command::LIBSEV_CMD_LAUNCH_UPDATE_VMSA,
            kvm_cmd::LAUNCH_UPDATE_VMSA,
        )
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

    /// `LAUNCH_MEASURE`: the 48-byte launch measurement (MEASURE ‖ MNONCE); the guest moves to
    /// LSECRET. The length is queried first, as `sev-spec` §1.7 describes.
    pub fn launch_measure(&mut self) -> Result<[u8; sizes::MEASUREMENT]> {
        let c = Command::LIBSEV_CMD_LAUNCH_MEASURE;
        let n = self.launch_measure_len()?;
        let mut buf = vec![0u8; n];
        let mut d = kvm_sev_launch_measure {
            uaddr: buf.as_mut_ptr() as u64,
            len: n as u32,
            pad0: 0,
        };
        // SAFETY: uaddr points to `len` writable bytes (buf) that outlive the call.
        let (r, fw) = unsafe { self.op(kvm_cmd::LAUNCH_MEASURE, ptr(&mut d)) };
        let got = d.len as usize;
        self.done(c, r, fw, || format!(" ({got} bytes)"))?;
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
        let mut d = kvm_sev_launch_secret {
            hdr_uaddr: uaddr(hdr),
            hdr_len: len_u32(c, "the packet header", hdr.len())?,
            pad0: 0,
            guest_uaddr: non_null(c, "the guest memory pointer", guest)?,
            guest_len: len_u32(c, "the guest range", guest_len)?,
            pad1: 0,
            trans_uaddr: uaddr(trans),
            trans_len: len_u32(c, "the encrypted secret", trans.len())?,
            pad2: 0,
        };
        // SAFETY: hdr/trans are readable slices; the guest range is the caller's (contract).
        let (r, fw) = unsafe { self.op(kvm_cmd::LAUNCH_SECRET, ptr(&mut d)) };
        self.done(c, r, fw, || format!(" ({guest_len} bytes)"))
    }

    /// `LAUNCH_FINISH`: the guest becomes RUNNING.
    pub fn launch_finish(&mut self) -> Result<()> {
        self.simple(Command::LIBSEV_CMD_LAUNCH_FINISH, kvm_cmd::LAUNCH_FINISH)
    }

    /// `GUEST_STATUS`.
    pub fn status(&mut self) -> Result<GuestStatus> {
        let c = Command::LIBSEV_CMD_GUEST_STATUS;
        let mut d = kvm_sev_guest_status::default();
        // SAFETY: data points to a live kvm_sev_guest_status (no addresses inside).
        let (r, fw) = unsafe { self.op(kvm_cmd::GUEST_STATUS, ptr(&mut d)) };
        let s = GuestStatus {
            handle: d.handle,
            policy: d.policy,
            state: d.state,
        };
        self.done(c, r, fw, || {
            format!(
                " (handle {}, policy {:#x}, state {})",
                s.handle, s.policy, s.state
            )
        })?;
        Ok(s)
    }

    /// # Safety
    /// See [`Guest::dbg_decrypt`].
    unsafe fn dbg(
        &mut self,
        c: Command,
        id: u32,
        src: *const u8,
        dst: *mut u8,
        len: usize,
    ) -> Result<()> {
        let mut d = kvm_sev_dbg {
            src_uaddr: non_null(c, "the source pointer", src)?,
            dst_uaddr: non_null(c, "the destination pointer", dst)?,
            len: len_u32(c, "the length", len)?,
            pad0: 0,
        };
        // SAFETY: both ranges are the caller's (contract of dbg_decrypt/dbg_encrypt).
        let (r, fw) = unsafe { self.op(id, ptr(&mut d)) };
        self.done(c, r, fw, || format!(" ({len} bytes)"))
    }

    /// `DBG_DECRYPT`: guest-key ciphertext at `src` → plaintext at `dst` (policy must allow
    /// debugging).
    ///
    /// # Safety
    /// `src..src+len` readable and `dst..dst+len` writable memory of this process, not
    /// accessed by others during the call.
    pub unsafe fn dbg_decrypt(&mut self, src: *const u8, dst: *mut u8, len: usize) -> Result<()> {
        let c = Command::LIBSEV_CMD_DBG_DECRYPT;
        // SAFETY: forwarded contract.
        unsafe { self.dbg(c, kvm_cmd::DBG_DECRYPT, src, dst, len) }
    }

    /// `DBG_ENCRYPT`: plaintext at `src` → guest-key ciphertext at `dst`.
    ///
    /// # Safety
    /// As [`Guest::dbg_decrypt`].
    pub unsafe fn dbg_encrypt(&mut self, src: *const u8, dst: *mut u8, len: usize) -> Result<()> {
        let c = Command::LIBSEV_CMD_DBG_ENCRYPT;
        // SAFETY: forwarded contract.
        unsafe { self.dbg(c, kvm_cmd::DBG_ENCRYPT, src, dst, len) }
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

    /// `GET_ATTESTATION_REPORT` with the caller's nonce (length queried first).
    pub fn attestation_report(&mut self, mnonce: [u8; 16]) -> Result<Vec<u8>> {
        let c = Command::LIBSEV_CMD_GET_ATTESTATION_REPORT;
        let n = self.attestation_report_len(mnonce)?;
        let mut buf = vec![0u8; n];
        let mut d = kvm_sev_attestation_report {
            mnonce,
            uaddr: buf.as_mut_ptr() as u64,
            len: n as u32,
            pad0: 0,
        };
        // SAFETY: uaddr points to `len` writable bytes (buf) that outlive the call.
        let (r, fw) = unsafe { self.op(kvm_cmd::GET_ATTESTATION_REPORT, ptr(&mut d)) };
        let got = (d.len as usize).min(n);
        self.done(c, r, fw, || format!(" ({got} bytes)"))?;
        buf.truncate(got);
        Ok(buf)
    }

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

    /// `SEND_START`: open the migration channel to the target described by its PDH, its
    /// platform chain (PEK ‖ OCA ‖ CEK) and AMD chain (ASK ‖ ARK). Returns the session blob
    /// for the target and the guest's policy; the guest moves to SUPDATE.
    pub fn send_start(
        &mut self,
        pdh: &[u8],
        plat_certs: &[u8],
        amd_certs: &[u8],
    ) -> Result<(Vec<u8>, u32)> {
        let c = Command::LIBSEV_CMD_SEND_START;
        let pdh_len = len_u32(c, "the target PDH", pdh.len())?;
        let plat_len = len_u32(c, "the platform chain", plat_certs.len())?;
        let amd_len = len_u32(c, "the AMD chain", amd_certs.len())?;
        let n = self.send_start_session_len()?;
        let mut session = vec![0u8; n];
        let mut d = kvm_sev_send_start {
            pdh_cert_uaddr: uaddr(pdh),
            pdh_cert_len: pdh_len,
            plat_certs_uaddr: uaddr(plat_certs),
            plat_certs_len: plat_len,
            amd_certs_uaddr: uaddr(amd_certs),
            amd_certs_len: amd_len,
            session_uaddr: session.as_mut_ptr() as u64,
            session_len: n as u32,
            ..Default::default()
        };
        // SAFETY: the certificate addresses are 0 or readable slices; session is writable for
        // `session_len` bytes; all outlive the call.
        let (r, fw) = unsafe { self.op(kvm_cmd::SEND_START, ptr(&mut d)) };
        let (got, policy) = ((d.session_len as usize).min(n), d.policy);
        self.done(c, r, fw, || format!(" (policy {policy:#x})"))?;
        session.truncate(got);
        Ok((session, policy))
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
    /// the packet header to `hdr_out`.
    ///
    /// # Safety
    /// `guest..guest+len` must be mapped, readable memory of this process.
    pub unsafe fn send_update_data(
        &mut self,
        guest: *const u8,
        len: usize,
        hdr_out: &mut [u8; sizes::PACKET_HEADER],
        trans_out: &mut [u8],
    ) -> Result<()> {
        let c = Command::LIBSEV_CMD_SEND_UPDATE_DATA;
        let guest_uaddr = non_null(c, "the guest memory pointer", guest)?;
        let guest_len = len_u32(c, "the guest range", len)?;
        let trans_len = len_u32(c, "the transport buffer", trans_out.len())?;
        let hdr_len = self.send_update_data_hdr_len()?;
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
        let mut d = kvm_sev_receive_update_data {
            hdr_uaddr: uaddr(hdr),
            hdr_len: len_u32(c, "the packet header", hdr.len())?,
            pad0: 0,
            guest_uaddr: non_null(c, "the guest memory pointer", guest)?,
            guest_len: len_u32(c, "the guest range", guest_len)?,
            pad1: 0,
            trans_uaddr: uaddr(trans),
            trans_len: len_u32(c, "the transport data", trans.len())?,
            pad2: 0,
        };
        // SAFETY: hdr/trans are readable slices; the guest range is the caller's (contract).
        let (r, fw) = unsafe { self.op(kvm_cmd::RECEIVE_UPDATE_DATA, ptr(&mut d)) };
        self.done(c, r, fw, || format!(" ({guest_len} bytes)"))
    }

    /// `RECEIVE_FINISH`: the guest becomes RUNNING.
    pub fn receive_finish(&mut self) -> Result<()> {
        self.simple(Command::LIBSEV_CMD_RECEIVE_FINISH, kvm_cmd::RECEIVE_FINISH)
    }

    /// `KVM_MEMORY_ENCRYPT_REG_REGION`: pin guest memory for the VM's life (KVM requires it
    /// for SEV guest RAM).
    ///
    /// # Safety
    /// `addr..addr+size` must be mapped memory of this process that stays mapped until it is
    /// unregistered or the VM is gone.
    pub unsafe fn register_region(&mut self, addr: *mut u8, size: usize) -> Result<()> {
        let c = Command::LIBSEV_CMD_REGISTER_REGION;
        let region = kvm_enc_region {
            addr: non_null(c, "the region address", addr)?,
            size: size as u64,
        };
        // SAFETY: forwarded contract.
        let r = unsafe { self.vm.register_region(&region) };
        finish(c, r, 0, || format!(" ({size} bytes)"))
    }

    /// `KVM_MEMORY_ENCRYPT_UNREG_REGION`: exactly an earlier registration's `(addr, size)`.
    pub fn unregister_region(&mut self, addr: *const u8, size: usize) -> Result<()> {
        let c = Command::LIBSEV_CMD_UNREGISTER_REGION;
        let region = kvm_enc_region {
            addr: non_null(c, "the region address", addr)?,
            size: size as u64,
        };
        let r = self.vm.unregister_region(&region);
        finish(c, r, 0, || format!(" ({size} bytes)"))
    }

    /// The hint for an `ENOTTY` while this object has not initialised the guest.
    fn hint(&self) -> Option<&'static str> {
        (!self.initialized).then_some(NOT_INITIALISED_HINT)
    }

    /// Which implementation runs this guest's commands.
    pub fn backend(&self) -> Backend {
        self.platform.backend()
    }
}

/// A fixed-size output: the command must have written exactly `N` bytes.
fn fixed<const N: usize>(c: Command, what: &str, buf: &[u8], got: usize) -> Result<[u8; N]> {
    if got != N || buf.len() < N {
        return Err(Error::new(
            Status::LIBSEV_STATUS_FW_INVALID_LENGTH,
            format!("{}: the {what} is {got} bytes, expected {N}", c.name()),
        )
        .with_command(c));
    }
    Ok(buf[..N].try_into().expect("N bytes"))
}
