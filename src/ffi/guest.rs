//! C ABI: the guest handle (`libsev_guest`), one function per SEV guest command.
//!
//! Flow (launch): `libsev_guest_new` or `_attach` → `_init` → `_launch_start` →
//! `_register_region` + `_launch_update_data` over guest memory → `_launch_measure` →
//! (optional `_launch_secret`) → `_launch_finish` → `libsev_guest_free`.
//!
//! libsev checks only plain caller errors (NULL pointers, lengths beyond the kernel's 32-bit
//! fields). Alignment, firmware-defined sizes and guest states are checked by the kernel and the
//! firmware (or the model), which report `LIBSEV_STATUS_FW_*` / OS statuses with both error
//! channels in `libsev_error` — exactly as on real hardware.
//!
//! Outputs whose size the firmware reports (measurement, attestation report, session blob,
//! packet header) follow the buffer rule: a NULL or short buffer gives
//! `LIBSEV_STATUS_BUFFER_TOO_SMALL` with the needed size in `*out_len`; libsev learns that size
//! with the firmware's own length query, which changes no state, so the command itself is not
//! issued and can be retried with a bigger buffer.

use super::platform::libsev_platform;
use super::{
    LastError, array_in, bytes_in, bytes_out, guard, into_handle, libsev_error, need, need_mut,
};
use crate::api::Guest;
use crate::error::{Error, Result};
use crate::status::{Status, libsev_status};
use crate::uapi::sizes;
use std::ffi::{c_char, c_int};
use std::sync::{Mutex, MutexGuard};

/// Size of the `mnonce` argument of `libsev_guest_attestation_report`.
pub const LIBSEV_MNONCE_LEN: usize = 16;

/// One SEV guest: a KVM VM (created by libsev, or the caller's, which libsev never closes) or
/// a model VM, on a `libsev_platform`.
///
/// Thread safety: use a guest handle from one thread at a time (calls on one handle are
/// serialised internally, so a mistake costs waiting, not memory safety); distinct guests are
/// independent and may be used from different threads. A guest keeps its platform alive.
#[allow(non_camel_case_types)]
pub struct libsev_guest {
    guest: Mutex<Guest>,
    last: LastError,
}

/// `GUEST_STATUS` as `libsev_guest_status` returns it.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
#[allow(non_camel_case_types)]
pub struct libsev_guest_status_info {
    /// The firmware handle.
    pub handle: u32,
    /// The guest policy.
    pub policy: u32,
    /// Firmware guest state: 0 UNINIT, 1 LUPDATE, 2 LSECRET, 3 RUNNING, 4 SUPDATE,
    /// 5 RUPDATE, 6 SENT.
    pub state: u32,
}

fn last_of<'a>(g: *const libsev_guest) -> Option<&'a LastError> {
    need(g, "guest").ok().map(|h| &h.last)
}

fn lock<'a>(g: *const libsev_guest) -> Result<MutexGuard<'a, Guest>> {
    let h: &'a libsev_guest = need(g, "guest")?;
    Ok(h.guest.lock().unwrap_or_else(|e| e.into_inner()))
}

/// Run `f` on the guest under the C conventions.
pub(crate) fn with_guest(
    g: *mut libsev_guest,
    err: *mut libsev_error,
    f: impl FnOnce(&mut Guest) -> Result<()>,
) -> libsev_status {
    guard(err, last_of(g), || f(&mut *lock(g)?))
}

/// An optional input blob: NULL with length 0 is "absent".
fn opt_in<'a>(p: *const u8, len: usize, name: &str) -> Result<Option<&'a [u8]>> {
    let s = bytes_in(p, len, name)?;
    Ok((!s.is_empty()).then_some(s))
}

fn new_handle(guest: Guest, out: &mut *mut libsev_guest) {
    into_handle(
        libsev_guest {
            guest: Mutex::new(guest),
            last: LastError::default(),
        },
        out,
    );
}

fn write_opt<T>(p: *mut T, v: T) {
    if let Ok(p) = need_mut(p, "") {
        *p = v;
    }
}

/// Create a guest on a new VM: KVM platforms open `/dev/kvm` and create a VM of the default
/// type (the VM fd belongs to the guest and is closed by `libsev_guest_free`); model platforms
/// create a model VM (`libsev_guest_vm_fd` gives -1). `*out` is set only on success.
///
/// Statuses: `LIBSEV_STATUS_NO_DEVICE` (no `/dev/kvm`), `LIBSEV_STATUS_PERMISSION_DENIED`,
/// `LIBSEV_STATUS_OS_ERROR`, `LIBSEV_STATUS_NULL_ARGUMENT`.
///
/// # Safety
/// `platform` NULL or live; `out` writable; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_guest_new(
    platform: *const libsev_platform,
    out: *mut *mut libsev_guest,
    err: *mut libsev_error,
) -> libsev_status {
    guard(err, None, || {
        let p = need(platform, "platform")?;
        let out = need_mut(out, "out")?;
        new_handle(Guest::new(&p.platform)?, out);
        Ok(())
    })
}

/// Create a guest on the caller's VM fd (e.g. from `KVM_CREATE_VM`). libsev never closes it;
/// keep it open until `libsev_guest_free`. A model platform accepts any fd and keeps its own
/// guest state. `*out` is set only on success.
///
/// Statuses: `LIBSEV_STATUS_BAD_FD` (`vm_fd` not open), `LIBSEV_STATUS_INVALID_ARGUMENT`
/// (negative), `LIBSEV_STATUS_NULL_ARGUMENT`.
///
/// # Safety
/// `platform` NULL or live; `out` writable; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_guest_attach(
    platform: *const libsev_platform,
    vm_fd: c_int,
    out: *mut *mut libsev_guest,
    err: *mut libsev_error,
) -> libsev_status {
    guard(err, None, || {
        let p = need(platform, "platform")?;
        let out = need_mut(out, "out")?;
        new_handle(Guest::attach(&p.platform, vm_fd)?, out);
        Ok(())
    })
}

/// Free a guest (NULL is a no-op). A VM libsev created is closed (KVM then decommissions the
/// guest); the caller's VM fd is left open.
///
/// # Safety
/// `guest` NULL or a handle from `libsev_guest_new`/`_attach`, not yet freed, and not in use
/// by another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_guest_free(guest: *mut libsev_guest) {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: per the contract, NULL or a live handle made by into_handle, freed once.
        unsafe { super::free_handle(guest) }
    }));
}

/// The message of the last failure on this guest ("" if none or if `guest` is NULL); valid
/// until the next failing call on the same handle.
///
/// # Safety
/// `guest` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_guest_last_error(guest: *const libsev_guest) -> *const c_char {
    match last_of(guest) {
        Some(l) => l.as_ptr(),
        None => c"".as_ptr(),
    }
}

/// The guest's VM fd (-1 for a model VM without one, or for NULL).
///
/// # Safety
/// `guest` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_guest_vm_fd(guest: *const libsev_guest) -> c_int {
    lock(guest).map(|g| g.vm_fd()).unwrap_or(-1)
}

/// The firmware handle from LAUNCH_START / RECEIVE_START (0 before, or for NULL).
///
/// # Safety
/// `guest` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_guest_handle(guest: *const libsev_guest) -> u32 {
    lock(guest).map(|g| g.handle()).unwrap_or(0)
}

/// `KVM_SEV_INIT`: make the VM an SEV guest. On a host whose KVM has no SEV this gives
/// `LIBSEV_STATUS_NO_SEV_SUPPORT` (`os_errno` ENOTTY, `fw_error` 0). Calling it twice, or after
/// vCPUs exist, is refused by KVM (`LIBSEV_STATUS_KERNEL_REJECTED`).
///
/// # Safety
/// `guest` NULL or live; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_guest_init(
    guest: *mut libsev_guest,
    err: *mut libsev_error,
) -> libsev_status {
    with_guest(guest, err, |g| g.init())
}

/// `KVM_SEV_ES_INIT`: make the VM an SEV-ES guest (statuses as `libsev_guest_init`).
///
/// # Safety
/// `guest` NULL or live; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_guest_es_init(
    guest: *mut libsev_guest,
    err: *mut libsev_error,
) -> libsev_status {
    with_guest(guest, err, |g| g.es_init())
}

/// `KVM_SEV_INIT2` (VMs created with an SEV VM type): `vmsa_features` must be 0 and
/// `ghcb_version` 0 for plain SEV (KVM checks: `LIBSEV_STATUS_KERNEL_REJECTED`).
///
/// # Safety
/// `guest` NULL or live; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_guest_init2(
    guest: *mut libsev_guest,
    vmsa_features: u64,
    ghcb_version: u16,
    err: *mut libsev_error,
) -> libsev_status {
    with_guest(guest, err, |g| g.init2(vmsa_features, ghcb_version))
}

/// `LAUNCH_START` with guest `policy`. `share_handle`: 0 for a new key, or the handle of a
/// guest to share the key with. `godh` (the owner's DH certificate, 2084 bytes) and `session`
/// (the 128-byte session blob) are both given for a secure channel, or both NULL/0. The new
/// handle goes to `*out_handle` (if not NULL) and `libsev_guest_handle`.
///
/// Statuses: `LIBSEV_STATUS_FW_*` (e.g. `_FW_BAD_MEASUREMENT` for a session blob that does not
/// verify, `_FW_POLICY_FAILURE`, `_FW_INVALID_LENGTH`), `LIBSEV_STATUS_NO_DEVICE` (platform
/// without `/dev/sev`), `LIBSEV_STATUS_NO_SEV_SUPPORT`, `LIBSEV_STATUS_NULL_ARGUMENT`.
///
/// # Safety
/// `guest` NULL or live; `godh`/`session` NULL or readable for their lengths; `out_handle`
/// NULL or writable; `err` NULL or writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn libsev_guest_launch_start(
    guest: *mut libsev_guest,
    policy: u32,
    share_handle: u32,
    godh: *const u8,
    godh_len: usize,
    session: *const u8,
    session_len: usize,
    out_handle: *mut u32,
    err: *mut libsev_error,
) -> libsev_status {
    with_guest(guest, err, |g| {
        let godh = opt_in(godh, godh_len, "godh")?;
        let session = opt_in(session, session_len, "session")?;
        let h = g.launch_start(policy, share_handle, godh, session)?;
        write_opt(out_handle, h);
        Ok(())
    })
}

/// `LAUNCH_UPDATE_DATA`: measure and encrypt `len` bytes of guest memory at `addr` in place
/// (zero copy). The firmware requires `addr` and `len` to be multiples of 16
/// (`LIBSEV_STATUS_FW_INVALID_ADDRESS` / `_FW_INVALID_LENGTH`); register the memory first
/// (`libsev_guest_register_region`). Ranges of 4 GiB or more are issued in pieces.
///
/// # Safety
/// `addr..addr+len` must be mapped, writable memory of this process, not used by others
/// during the call; `guest` NULL or live; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_guest_launch_update_data(
    guest: *mut libsev_guest,
    addr: *mut u8,
    len: usize,
    err: *mut libsev_error,
) -> libsev_status {
    with_guest(guest, err, |g| {
        // SAFETY: the caller's range (function contract); NULL is refused inside.
        unsafe { g.launch_update_data(addr, len) }
    })
}

/// `LAUNCH_UPDATE_VMSA` (SEV-ES): encrypt and measure every vCPU's register state.
///
/// # Safety
/// `guest` NULL or live; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_guest_launch_update_vmsa(
    guest: *mut libsev_guest,
    err: *mut libsev_error,
) -> libsev_status {
    with_guest(guest, err, |g| g.launch_update_vmsa())
}

/// `LAUNCH_MEASURE`: the launch measurement (`MEASURE[32] ‖ MNONCE[16]`, 48 bytes =
/// `LIBSEV_MEASUREMENT_LEN`) into `buf`; the guest moves to LSECRET. A NULL or short `buf`
/// gives `LIBSEV_STATUS_BUFFER_TOO_SMALL` with the size in `*out_len` and leaves the guest
/// unchanged (only the firmware's length query runs). A guest not in LUPDATE gives
/// `LIBSEV_STATUS_FW_INVALID_GUEST_STATE`.
///
/// # Safety
/// `guest` NULL or live; `buf` NULL or `len` writable bytes; `out_len` writable; `err` NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_guest_launch_measure(
    guest: *mut libsev_guest,
    buf: *mut u8,
    len: usize,
    out_len: *mut usize,
    err: *mut libsev_error,
) -> libsev_status {
    with_guest(guest, err, |g| {
        let out_len_ref = need_mut(out_len, "out_len")?;
        let need_len = g.launch_measure_len()?;
        if buf.is_null() || len < need_len {
            *out_len_ref = need_len;
            return too_small("buf", need_len, buf, len);
        }
        let m = g.launch_measure()?;
        bytes_out(buf, len, out_len, &m)
    })
}

fn too_small(name: &str, needed: usize, buf: *const u8, len: usize) -> Result<()> {
    Err(Error::new(
        Status::LIBSEV_STATUS_BUFFER_TOO_SMALL,
        format!(
            "{name} too small: {needed} bytes needed, {} given",
            if buf.is_null() { 0 } else { len }
        ),
    ))
}

/// `LAUNCH_SECRET`: inject a secret packet — `hdr` (52 bytes, `LIBSEV_SECRET_HEADER_LEN`) and
/// `trans` (the encrypted secret) from `libsev_owner_session_package_secret` — into
/// `guest_len` bytes of guest memory at `guest_addr`. The firmware checks the MAC
/// (`LIBSEV_STATUS_FW_BAD_MEASUREMENT`), lengths, 16-byte alignment and the guest state
/// (LSECRET).
///
/// # Safety
/// `guest_addr..+guest_len` mapped, writable memory of this process; `hdr`/`trans` NULL or
/// readable for their lengths; `guest` NULL or live; `err` NULL or writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn libsev_guest_launch_secret(
    guest: *mut libsev_guest,
    hdr: *const u8,
    hdr_len: usize,
    guest_addr: *mut u8,
    guest_len: usize,
    trans: *const u8,
    trans_len: usize,
    err: *mut libsev_error,
) -> libsev_status {
    with_guest(guest, err, |g| {
        let hdr = bytes_in(hdr, hdr_len, "hdr")?;
        let trans = bytes_in(trans, trans_len, "trans")?;
        // SAFETY: the caller's guest range (function contract); NULL is refused inside.
        unsafe { g.launch_secret(hdr, guest_addr, guest_len, trans) }
    })
}

/// `LAUNCH_FINISH`: the guest becomes RUNNING (from LSECRET; otherwise
/// `LIBSEV_STATUS_FW_INVALID_GUEST_STATE`).
///
/// # Safety
/// `guest` NULL or live; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_guest_launch_finish(
    guest: *mut libsev_guest,
    err: *mut libsev_error,
) -> libsev_status {
    with_guest(guest, err, |g| g.launch_finish())
}

/// `GUEST_STATUS` into `*out` (written only on success).
///
/// # Safety
/// `guest` NULL or live; `out` NULL or writable; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_guest_status(
    guest: *mut libsev_guest,
    out: *mut libsev_guest_status_info,
    err: *mut libsev_error,
) -> libsev_status {
    with_guest(guest, err, |g| {
        let out = need_mut(out, "out")?;
        let s = g.status()?;
        *out = libsev_guest_status_info {
            handle: s.handle,
            policy: s.policy,
            state: s.state,
        };
        Ok(())
    })
}

/// `DBG_DECRYPT`: decrypt `len` bytes of guest memory at `src` into `dst` with the guest key.
/// Refused by the firmware when the policy forbids debugging
/// (`LIBSEV_STATUS_FW_POLICY_FAILURE`).
///
/// # Safety
/// `src..+len` readable and `dst..+len` writable memory of this process; `guest` NULL or live;
/// `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_guest_dbg_decrypt(
    guest: *mut libsev_guest,
    src: *const u8,
    dst: *mut u8,
    len: usize,
    err: *mut libsev_error,
) -> libsev_status {
    with_guest(guest, err, |g| {
        // SAFETY: the caller's ranges (function contract); NULL is refused inside.
        unsafe { g.dbg_decrypt(src, dst, len) }
    })
}

/// `DBG_ENCRYPT`: encrypt `len` bytes of plaintext at `src` into guest memory at `dst`.
///
/// # Safety
/// As for `libsev_guest_dbg_decrypt`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_guest_dbg_encrypt(
    guest: *mut libsev_guest,
    src: *const u8,
    dst: *mut u8,
    len: usize,
    err: *mut libsev_error,
) -> libsev_status {
    with_guest(guest, err, |g| {
        // SAFETY: the caller's ranges (function contract); NULL is refused inside.
        unsafe { g.dbg_encrypt(src, dst, len) }
    })
}

/// `GET_ATTESTATION_REPORT` with the caller's 16-byte `mnonce` (`LIBSEV_MNONCE_LEN`): the
/// report (208 bytes, `LIBSEV_ATTESTATION_REPORT_LEN`) into `buf`, under the buffer rule.
/// Guests not in LSECRET, RUNNING, SUPDATE or SENT give `LIBSEV_STATUS_FW_INVALID_GUEST_STATE`.
///
/// # Safety
/// `guest` NULL or live; `mnonce` 16 readable bytes; `buf` NULL or `len` writable bytes;
/// `out_len` writable; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_guest_attestation_report(
    guest: *mut libsev_guest,
    mnonce: *const u8,
    buf: *mut u8,
    len: usize,
    out_len: *mut usize,
    err: *mut libsev_error,
) -> libsev_status {
    with_guest(guest, err, |g| {
        let out_len_ref = need_mut(out_len, "out_len")?;
        let mnonce = array_in::<LIBSEV_MNONCE_LEN>(need(mnonce, "mnonce")?, "mnonce")?;
        let need_len = g.attestation_report_len(mnonce)?;
        if buf.is_null() || len < need_len {
            *out_len_ref = need_len;
            return too_small("buf", need_len, buf, len);
        }
        let r = g.attestation_report(mnonce)?;
        bytes_out(buf, len, out_len, &r)
    })
}

/// `SEND_START`: open the migration channel to a target platform given its PDH (2084 bytes),
/// its chain `PEK ‖ OCA ‖ CEK` (`plat_certs`) and AMD's `ASK ‖ ARK` (`amd_certs`). The session
/// blob for the target goes to `session_buf` (128 bytes, buffer rule: a NULL or short buffer
/// gives `LIBSEV_STATUS_BUFFER_TOO_SMALL` with the size in `*session_out_len` and leaves the
/// guest RUNNING); the guest's policy to `*out_policy` (if not NULL). The guest moves to SUPDATE.
/// The firmware checks the certificates (`LIBSEV_STATUS_FW_INVALID_CERTIFICATE`,
/// `_FW_BAD_SIGNATURE`) and the policy (`_FW_POLICY_FAILURE` for NOSEND); the kernel requires
/// all three inputs (`LIBSEV_STATUS_KERNEL_REJECTED`).
///
/// # Safety
/// `guest` NULL or live; each input NULL or readable for its length; `session_buf` NULL or
/// writable for `session_len`; `session_out_len` writable; `out_policy` NULL or writable; `err`
/// NULL or writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn libsev_guest_send_start(
    guest: *mut libsev_guest,
    pdh: *const u8,
    pdh_len: usize,
    plat_certs: *const u8,
    plat_certs_len: usize,
    amd_certs: *const u8,
    amd_certs_len: usize,
    session_buf: *mut u8,
    session_len: usize,
    session_out_len: *mut usize,
    out_policy: *mut u32,
    err: *mut libsev_error,
) -> libsev_status {
    with_guest(guest, err, |g| {
        let out_len_ref = need_mut(session_out_len, "session_out_len")?;
        let pdh = bytes_in(pdh, pdh_len, "pdh")?;
        let plat = bytes_in(plat_certs, plat_certs_len, "plat_certs")?;
        let amd = bytes_in(amd_certs, amd_certs_len, "amd_certs")?;
        let need_len = g.send_start_session_len()?;
        if session_buf.is_null() || session_len < need_len {
            *out_len_ref = need_len;
            return too_small("session_buf", need_len, session_buf, session_len);
        }
        let (session, policy) = g.send_start(pdh, plat, amd)?;
        bytes_out(session_buf, session_len, session_out_len, &session)?;
        write_opt(out_policy, policy);
        Ok(())
    })
}

/// `SEND_UPDATE_DATA`: re-encrypt `guest_len` bytes of guest memory at `guest_addr` (one page
/// at most, 16-byte aligned — the kernel and firmware check) for the target: the packet header
/// (52 bytes) into `hdr_buf`, the transport data (`guest_len` bytes) into `trans_buf`. If either
/// buffer is NULL or short, both sizes go to `*hdr_out_len` / `*trans_out_len`, nothing is
/// issued or written, and `LIBSEV_STATUS_BUFFER_TOO_SMALL` is returned.
///
/// # Safety
/// `guest_addr..+guest_len` readable memory of this process; each buffer NULL or writable for
/// its length; both `*_out_len` writable; `guest` NULL or live; `err` NULL or writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn libsev_guest_send_update_data(
    guest: *mut libsev_guest,
    guest_addr: *const u8,
    guest_len: usize,
    hdr_buf: *mut u8,
    hdr_len: usize,
    hdr_out_len: *mut usize,
    trans_buf: *mut u8,
    trans_len: usize,
    trans_out_len: *mut usize,
    err: *mut libsev_error,
) -> libsev_status {
    with_guest(guest, err, |g| {
        let hdr_out_len = need_mut(hdr_out_len, "hdr_out_len")?;
        let trans_out_len = need_mut(trans_out_len, "trans_out_len")?;
        let hlen = g.send_update_data_hdr_len()?;
        *hdr_out_len = hlen;
        *trans_out_len = guest_len;
        let mut short = Vec::new();
        if hdr_buf.is_null() || hdr_len < hlen {
            short.push(format!("hdr_buf needs {hlen} bytes"));
        }
        if trans_buf.is_null() || trans_len < guest_len {
            short.push(format!("trans_buf needs {guest_len} bytes"));
        }
        if !short.is_empty() {
            return Err(Error::new(
                Status::LIBSEV_STATUS_BUFFER_TOO_SMALL,
                format!("buffer too small: {}", short.join("; ")),
            ));
        }
        let mut hdr = [0u8; sizes::PACKET_HEADER];
        let mut trans = vec![0u8; guest_len];
        // SAFETY: the caller's guest range (function contract); NULL is refused inside.
        unsafe { g.send_update_data(guest_addr, guest_len, &mut hdr, &mut trans) }?;
        // SAFETY: both buffers were checked above to be non-NULL and long enough (contract:
        // writable for their lengths).
        unsafe {
            std::ptr::copy_nonoverlapping(hdr.as_ptr(), hdr_buf, hlen);
            std::ptr::copy_nonoverlapping(trans.as_ptr(), trans_buf, guest_len);
        }
        Ok(())
    })
}

/// `SEND_FINISH`: the guest becomes SENT.
///
/// # Safety
/// `guest` NULL or live; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_guest_send_finish(
    guest: *mut libsev_guest,
    err: *mut libsev_error,
) -> libsev_status {
    with_guest(guest, err, |g| g.send_finish())
}

/// `SEND_CANCEL`: abandon the migration; the guest returns to RUNNING.
///
/// # Safety
/// `guest` NULL or live; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_guest_send_cancel(
    guest: *mut libsev_guest,
    err: *mut libsev_error,
) -> libsev_status {
    with_guest(guest, err, |g| g.send_cancel())
}

/// `RECEIVE_START`: accept an incoming guest with `policy`; `pdh` is the SOURCE platform's
/// PDH certificate (2084 bytes; the firmware does ECDH between it and this platform's PDH key,
/// as the source did with this platform's PDH at SEND_START) and `session` the 128-byte blob
/// the source's SEND_START produced; `share_handle` as for `libsev_guest_launch_start`. The new handle goes to
/// `*out_handle` (if not NULL). The firmware checks the blob's MACs
/// (`LIBSEV_STATUS_FW_BAD_MEASUREMENT`); the kernel requires both inputs.
///
/// # Safety
/// `guest` NULL or live; `pdh`/`session` NULL or readable for their lengths; `out_handle`
/// NULL or writable; `err` NULL or writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn libsev_guest_receive_start(
    guest: *mut libsev_guest,
    policy: u32,
    share_handle: u32,
    pdh: *const u8,
    pdh_len: usize,
    session: *const u8,
    session_len: usize,
    out_handle: *mut u32,
    err: *mut libsev_error,
) -> libsev_status {
    with_guest(guest, err, |g| {
        let pdh = bytes_in(pdh, pdh_len, "pdh")?;
        let session = bytes_in(session, session_len, "session")?;
        let h = g.receive_start(policy, pdh, session, share_handle)?;
        write_opt(out_handle, h);
        Ok(())
    })
}

/// `RECEIVE_UPDATE_DATA`: decrypt one packet from the source (`hdr`, `trans`) into `guest_len`
/// bytes of guest memory at `guest_addr`. The firmware checks the MAC
/// (`LIBSEV_STATUS_FW_BAD_MEASUREMENT`), lengths and alignment.
///
/// # Safety
/// `guest_addr..+guest_len` mapped, writable memory of this process; `hdr`/`trans` NULL or
/// readable for their lengths; `guest` NULL or live; `err` NULL or writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn libsev_guest_receive_update_data(
    guest: *mut libsev_guest,
    hdr: *const u8,
    hdr_len: usize,
    guest_addr: *mut u8,
    guest_len: usize,
    trans: *const u8,
    trans_len: usize,
    err: *mut libsev_error,
) -> libsev_status {
    with_guest(guest, err, |g| {
        let hdr = bytes_in(hdr, hdr_len, "hdr")?;
        let trans = bytes_in(trans, trans_len, "trans")?;
        // SAFETY: the caller's guest range (function contract); NULL is refused inside.
        unsafe { g.receive_update_data(hdr, guest_addr, guest_len, trans) }
    })
}

/// `RECEIVE_FINISH`: the guest becomes RUNNING.
///
/// # Safety
/// `guest` NULL or live; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_guest_receive_finish(
    guest: *mut libsev_guest,
    err: *mut libsev_error,
) -> libsev_status {
    with_guest(guest, err, |g| g.receive_finish())
}

/// `KVM_MEMORY_ENCRYPT_REG_REGION`: pin `size` bytes of guest memory at `addr` for the VM's
/// life (KVM requires it for SEV guest RAM; pinning counts against `RLIMIT_MEMLOCK`:
/// `LIBSEV_STATUS_OUT_OF_MEMORY`).
///
/// # Safety
/// `addr..+size` mapped memory of this process that stays mapped until unregistered or the
/// guest is freed; `guest` NULL or live; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_guest_register_region(
    guest: *mut libsev_guest,
    addr: *mut u8,
    size: usize,
    err: *mut libsev_error,
) -> libsev_status {
    with_guest(guest, err, |g| {
        // SAFETY: the caller's range (function contract); NULL is refused inside.
        unsafe { g.register_region(addr, size) }
    })
}

/// `KVM_MEMORY_ENCRYPT_UNREG_REGION`: exactly the `(addr, size)` of an earlier registration
/// (anything else: `LIBSEV_STATUS_KERNEL_REJECTED`).
///
/// # Safety
/// `guest` NULL or live; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_guest_unregister_region(
    guest: *mut libsev_guest,
    addr: *const u8,
    size: usize,
    err: *mut libsev_error,
) -> libsev_status {
    with_guest(guest, err, |g| g.unregister_region(addr, size))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::platform::libsev_platform_free;
    use crate::ffi::platform::libsev_platform_open_kvm_without_sev;
    use crate::transport::kvm::fd_is_open;
    use std::ffi::CStr;
    use std::os::fd::AsRawFd;
    use std::ptr::{null, null_mut};

    fn zero_err() -> libsev_error {
        libsev_error {
            status: 0,
            fw_error: 0,
            os_errno: 0,
            command: 0,
            message: [0; crate::ffi::LIBSEV_ERROR_MESSAGE_LEN],
        }
    }

    #[test]
    fn null_handles_and_arguments() {
        let mut e = zero_err();
        // SAFETY: NULL guest is refused before use.
        let s = unsafe { libsev_guest_init(null_mut(), &mut e) };
        assert_eq!(s, Status::LIBSEV_STATUS_NULL_ARGUMENT);
        assert_eq!(e.status, s as u32);
        let mut n = 0usize;
        // SAFETY: as above.
        let s =
            unsafe { libsev_guest_launch_measure(null_mut(), null_mut(), 0, &mut n, null_mut()) };
        assert_eq!(s, Status::LIBSEV_STATUS_NULL_ARGUMENT);
        let mut g = null_mut();
        // SAFETY: NULL platform is refused.
        let s = unsafe { libsev_guest_new(null(), &mut g, null_mut()) };
        assert_eq!(s, Status::LIBSEV_STATUS_NULL_ARGUMENT);
        assert!(g.is_null(), "*out untouched on failure");
        // SAFETY: NULL is accepted by these.
        unsafe {
            libsev_guest_free(null_mut());
            assert_eq!(libsev_guest_vm_fd(null()), -1);
            assert_eq!(libsev_guest_handle(null()), 0);
            assert_eq!(CStr::from_ptr(libsev_guest_last_error(null())), c"");
        }
    }

    #[test]
    fn attach_a_bad_fd_and_the_platform_may_go_first() {
        let mut p = null_mut();
        // SAFETY: valid out pointer.
        let s = unsafe { libsev_platform_open_kvm_without_sev(&mut p, null_mut()) };
        assert_eq!(s, Status::LIBSEV_STATUS_OK);
        let mut g = null_mut();
        let mut e = zero_err();
        // SAFETY: live platform; i32::MAX is never an open fd.
        let s = unsafe { libsev_guest_attach(p, i32::MAX, &mut g, &mut e) };
        assert_eq!(s, Status::LIBSEV_STATUS_BAD_FD);
        assert_eq!(e.os_errno, libc::EBADF);
        assert!(g.is_null());
        // SAFETY: live platform.
        let s = unsafe { libsev_guest_attach(p, -5, &mut g, null_mut()) };
        assert_eq!(s, Status::LIBSEV_STATUS_INVALID_ARGUMENT);

        // A non-KVM fd attaches (the kernel decides at the first command), and the guest
        // outlives its platform.
        let f = std::fs::File::open("/dev/null").unwrap();
        // SAFETY: live platform, open fd.
        let s = unsafe { libsev_guest_attach(p, f.as_raw_fd(), &mut g, null_mut()) };
        assert_eq!(s, Status::LIBSEV_STATUS_OK);
        // SAFETY: freed once; the guest holds its own reference.
        unsafe { libsev_platform_free(p) };
        // SAFETY: live guest.
        assert_eq!(unsafe { libsev_guest_vm_fd(g) }, f.as_raw_fd());
        let mut e = zero_err();
        // SAFETY: live guest.
        let s = unsafe { libsev_guest_init(g, &mut e) };
        assert_eq!(
            s,
            Status::LIBSEV_STATUS_NO_SEV_SUPPORT,
            "/dev/null answers ENOTTY"
        );
        assert_eq!((e.os_errno, e.fw_error), (libc::ENOTTY, 0));
        // Short buffer for the measurement: the query itself fails here (no SEV), so the
        // failure is reported and nothing is written.
        let mut buf = [0xAAu8; 4];
        let mut n = 999usize;
        // SAFETY: live guest, 4 writable bytes.
        let s = unsafe { libsev_guest_launch_measure(g, buf.as_mut_ptr(), 4, &mut n, null_mut()) };
        assert_eq!(s, Status::LIBSEV_STATUS_NO_SEV_SUPPORT);
        assert_eq!(buf, [0xAA; 4]);
        // SAFETY: live guest.
        let last = unsafe { CStr::from_ptr(libsev_guest_last_error(g)) };
        assert!(
            last.to_str().unwrap().contains("LAUNCH_MEASURE"),
            "{last:?}"
        );
        // SAFETY: freed once.
        unsafe { libsev_guest_free(g) };
        assert!(fd_is_open(f.as_raw_fd()), "the caller's fd stays open");
    }
}

#[cfg(test)]
#[path = "platform_guest_tests.rs"]
mod model_tests;
