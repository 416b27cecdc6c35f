//! C ABI: the SEV debug commands of a guest (DBG_DECRYPT, DBG_ENCRYPT).

use super::guest::{libsev_guest, with_guest};
use super::libsev_error;
use crate::status::libsev_status;

/// `DBG_DECRYPT`: decrypt `len` bytes of guest memory at `src` into `dst` with the guest key.
/// Refused by the firmware when the policy forbids debugging
/// (`LIBSEV_STATUS_FW_POLICY_FAILURE`).
///
/// Any source and destination offsets and lengths are exact: on success every one of the
/// `len` bytes was written and no byte around them. libsev issues the request in pieces KVM
/// handles exactly (one piece when `src` and `dst` share their offset within a page;
/// otherwise pieces within one source page and one destination page each), on real hosts as
/// on the model. A source that is not all readable or a destination that is not all writable
/// (read-only, `PROT_NONE`, unmapped) gives `LIBSEV_STATUS_OUT_OF_MEMORY` (`ENOMEM`) before
/// anything is written. Another failure part-way (e.g. the guest destroyed by another
/// thread) may leave the pieces before it written.
///
/// # Safety
/// `src..+len` and `dst..+len` memory of this process, not used by others during the call;
/// `guest` NULL or live; `err` NULL or writable.
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
/// As exact as `libsev_guest_dbg_decrypt`: KVM's read-modify-write of an unaligned
/// destination re-encrypts only `round_up(len, 16)` bytes from the rounded-down destination
/// and would leave the tail unwritten, so libsev first brings an unaligned destination to a
/// 16-byte boundary with a piece of its own; success means every byte was written.
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
