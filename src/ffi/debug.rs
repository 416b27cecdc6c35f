//! C ABI: the SEV debug commands of a guest (DBG_DECRYPT, DBG_ENCRYPT).

use super::guest::{libsev_guest, with_guest};
use super::libsev_error;
use crate::status::libsev_status;

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
    // SAFETY: the caller's ranges and pointers as documented; NULL is refused inside.
    unsafe { with_guest(guest, err, |g| g.dbg_decrypt(src, dst, len)) }
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
    // SAFETY: the caller's ranges and pointers as documented; NULL is refused inside.
    unsafe { with_guest(guest, err, |g| g.dbg_encrypt(src, dst, len)) }
}
