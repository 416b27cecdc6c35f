//! C ABI: the SEV launch commands of a guest (LAUNCH_*, and GET_ATTESTATION_REPORT, which
//! reports the launch digest).
//!
//! Outputs whose size the firmware reports (measurement, attestation report) follow the buffer
//! rule. When the caller's buffer holds the output, the command is issued once, straight into
//! it; for a NULL or short buffer libsev asks the firmware's own length query, which changes no
//! state, so the command itself is not issued and can be retried with a bigger buffer.

use super::boundary::{self, Out};
use super::guest::{libsev_guest, with_guest};
use super::libsev_error;
use crate::status::libsev_status;

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
    // SAFETY: the pointers are as the function's `# Safety` section documents; the
    // boundary checks NULLs and lengths before any access (the same holds below).
    unsafe {
        with_guest(guest, err, |g| {
            let godh = boundary::optional_input(godh, godh_len, "godh")?;
            let session = boundary::optional_input(session, session_len, "session")?;
            let h = g.launch_start(policy, share_handle, godh, session)?;
            boundary::write_opt(out_handle, h);
            Ok(())
        })
    }
}

/// `LAUNCH_UPDATE_DATA`: measure and encrypt `len` bytes of guest memory at `addr` in place
/// (zero copy). The firmware requires `addr` and `len` to be multiples of 16
/// (`LIBSEV_STATUS_FW_INVALID_ADDRESS` / `_FW_INVALID_LENGTH`); register the memory first
/// (`libsev_guest_register_region`). Ranges longer than 2 GiB are issued in 2 GiB pieces (the
/// kernel's length field is 32 bits) after the whole range was checked: a range any piece
/// would be refused for (length or address not a multiple of 16, a page not mapped writable)
/// is refused before the first piece, with guest memory and the launch digest unchanged.
/// Memory that is not mapped writable (read-only, `PROT_NONE`, unmapped) gives
/// `LIBSEV_STATUS_OUT_OF_MEMORY` with `os_errno` `ENOMEM` (the kernel cannot pin it), on the
/// model as on KVM, and nothing is written.
///
/// # Safety
/// `addr..addr+len` must be memory of this process not used by others during the call (it is
/// rewritten as ciphertext); `guest` NULL or live; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_guest_launch_update_data(
    guest: *mut libsev_guest,
    addr: *mut u8,
    len: usize,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: see libsev_guest_launch_start; the range is the caller's (NULL refused inside).
    unsafe { with_guest(guest, err, |g| g.launch_update_data(addr, len)) }
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
    // SAFETY: see libsev_guest_launch_start.
    unsafe { with_guest(guest, err, |g| g.launch_update_vmsa()) }
}

/// `LAUNCH_MEASURE`: the launch measurement (`MEASURE[32] ‖ MNONCE[16]`, 48 bytes =
/// `LIBSEV_MEASUREMENT_LEN`) into `buf`, by one firmware call; the guest moves to LSECRET. A
/// NULL or short `buf` gives `LIBSEV_STATUS_BUFFER_TOO_SMALL` with the size in `*out_len` and
/// leaves the guest unchanged (only the firmware's length query runs). A guest not in LUPDATE
/// gives `LIBSEV_STATUS_FW_INVALID_GUEST_STATE`.
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
    // SAFETY: see libsev_guest_launch_start.
    unsafe {
        with_guest(guest, err, |g| {
            let mut out = Out::new(buf, len, out_len, ("buf", "out_len"))?;
            let f = g.launch_measure_into(out.buffer())?;
            out.fetched(f)
        })
    }
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
    // SAFETY: see libsev_guest_launch_start; the guest range is the caller's.
    unsafe {
        with_guest(guest, err, |g| {
            let hdr = boundary::input(hdr, hdr_len, "hdr")?;
            let trans = boundary::input(trans, trans_len, "trans")?;
            g.launch_secret(hdr, guest_addr, guest_len, trans)
        })
    }
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
    // SAFETY: see libsev_guest_launch_start.
    unsafe { with_guest(guest, err, |g| g.launch_finish()) }
}

/// `GET_ATTESTATION_REPORT` with the caller's 16-byte `mnonce` (`LIBSEV_MNONCE_LEN`): the
/// report (208 bytes, `LIBSEV_ATTESTATION_REPORT_LEN`) into `buf` by one firmware call, under
/// the buffer rule (a NULL or short `buf`: only the length query runs). Guests not in
/// LSECRET, RUNNING, SUPDATE or SENT give `LIBSEV_STATUS_FW_INVALID_GUEST_STATE`.
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
    // SAFETY: see libsev_guest_launch_start.
    unsafe {
        with_guest(guest, err, |g| {
            let mut out = Out::new(buf, len, out_len, ("buf", "out_len"))?;
            let mnonce = boundary::array_in::<{ super::LIBSEV_MNONCE_LEN }>(mnonce, "mnonce")?;
            let f = g.attestation_report_into(mnonce, out.buffer())?;
            out.fetched(f)
        })
    }
}
