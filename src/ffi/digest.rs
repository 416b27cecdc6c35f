//! C ABI: the expected legacy-SEV launch digest on its own (`libsev_launch_digest`), for
//! owners and tools that predict a launch digest before any platform or session exists
//! (`sev-snp-measure --mode sev` computes the same value).
//!
//! Flow: `libsev_launch_digest_new` → `_update` with every byte the hypervisor passes to
//! LAUNCH_UPDATE_DATA, in order → `_value` (32 bytes; the builder stays usable) → `_free`.
//! Give the value to `libsev_owner_session_set_launch_digest` to check a measurement.

use super::{LastError, array_out, bytes_in, guard, into_handle, libsev_error, need, need_mut};
use crate::owner::LaunchDigest;
use crate::status::libsev_status;
use std::ffi::c_char;

/// Size of a launch digest (SHA-256).
pub const LIBSEV_LAUNCH_DIGEST_LEN: usize = 32;

/// A launch digest being built: SHA-256 over the bytes the hypervisor encrypts with
/// LAUNCH_UPDATE_DATA (and, for SEV-ES, LAUNCH_UPDATE_VMSA), in command order. How the data is
/// split into calls does not matter. Holds no secret.
///
/// Thread safety: use a handle from one thread at a time; distinct handles are independent.
#[allow(non_camel_case_types)]
pub struct libsev_launch_digest {
    digest: LaunchDigest,
    last: LastError,
}

fn last_of<'a>(d: *const libsev_launch_digest) -> Option<&'a LastError> {
    need(d, "digest").ok().map(|h| &h.last)
}

/// Create an empty launch digest. `*out` is set only on success
/// (`LIBSEV_STATUS_NULL_ARGUMENT` for a NULL `out`).
///
/// # Safety
/// `out` must be NULL or writable; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_launch_digest_new(
    out: *mut *mut libsev_launch_digest,
    err: *mut libsev_error,
) -> libsev_status {
    guard(err, None, || {
        let out = need_mut(out, "out")?;
        into_handle(
            libsev_launch_digest {
                digest: LaunchDigest::new(),
                last: LastError::default(),
            },
            out,
        );
        Ok(())
    })
}

/// Add the next `len` bytes the hypervisor passes to LAUNCH_UPDATE_DATA. `data` may be NULL
/// when `len` is 0.
///
/// # Safety
/// `digest` NULL or a live handle not used by another thread; `data` readable for `len`;
/// `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_launch_digest_update(
    digest: *mut libsev_launch_digest,
    data: *const u8,
    len: usize,
    err: *mut libsev_error,
) -> libsev_status {
    guard(err, last_of(digest), || {
        let h = need_mut(digest, "digest")?;
        let data = bytes_in(data, len, "data")?;
        h.digest.update(data);
        Ok(())
    })
}

/// Write the digest of everything added so far (`LIBSEV_LAUNCH_DIGEST_LEN` = 32 bytes) to
/// `digest_out`. The builder stays usable: more data may follow.
///
/// # Safety
/// `digest` NULL or a live handle; `digest_out` NULL or 32 writable bytes; `err` NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_launch_digest_value(
    digest: *const libsev_launch_digest,
    digest_out: *mut u8,
    err: *mut libsev_error,
) -> libsev_status {
    guard(err, last_of(digest), || {
        let h = need(digest, "digest")?;
        array_out(digest_out, &h.digest.value(), "digest_out")
    })
}

/// Free a launch digest (NULL is a no-op).
///
/// # Safety
/// `digest` NULL or a handle from `libsev_launch_digest_new`, not freed before and not used
/// afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_launch_digest_free(digest: *mut libsev_launch_digest) {
    // SAFETY: the caller passes NULL or a handle made by into_handle, freed once.
    unsafe { super::free_handle(digest) }
}

/// The message of the handle's last failure ("" if none, or for NULL); valid until the next
/// failing call on the same handle.
///
/// # Safety
/// `digest` NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_launch_digest_last_error(
    digest: *const libsev_launch_digest,
) -> *const c_char {
    match last_of(digest) {
        Some(l) => l.as_ptr(),
        None => c"".as_ptr(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};
    const OK: libsev_status = libsev_status::LIBSEV_STATUS_OK;

    #[test]
    fn split_updates_give_sha256_of_the_whole() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 + 3) as u8).collect();
        let mut d = std::ptr::null_mut();
        let mut e = std::mem::MaybeUninit::<libsev_error>::zeroed();
        // SAFETY: valid pointers for each call; the handle is freed once at the end.
        unsafe {
            assert_eq!(libsev_launch_digest_new(&mut d, e.as_mut_ptr()), OK);
            for chunk in data.chunks(999) {
                let st =
                    libsev_launch_digest_update(d, chunk.as_ptr(), chunk.len(), e.as_mut_ptr());
                assert_eq!(st, OK);
            }
            assert_eq!(
                libsev_launch_digest_update(d, std::ptr::null(), 0, e.as_mut_ptr()),
                OK
            );
            let mut out = [0u8; 32];
            assert_eq!(
                libsev_launch_digest_value(d, out.as_mut_ptr(), e.as_mut_ptr()),
                OK
            );
            let want: [u8; 32] = Sha256::digest(&data).into();
            assert_eq!(out, want);
            // NULL data with a length, NULL output: argument errors, handle message set.
            let st = libsev_launch_digest_update(d, std::ptr::null(), 1, e.as_mut_ptr());
            assert_eq!(st, libsev_status::LIBSEV_STATUS_NULL_ARGUMENT);
            let st = libsev_launch_digest_value(d, std::ptr::null_mut(), std::ptr::null_mut());
            assert_eq!(st, libsev_status::LIBSEV_STATUS_NULL_ARGUMENT);
            let msg = std::ffi::CStr::from_ptr(libsev_launch_digest_last_error(d));
            assert!(msg.to_str().unwrap().contains("digest_out"));
            libsev_launch_digest_free(d);
            libsev_launch_digest_free(std::ptr::null_mut());
            let st = libsev_launch_digest_new(std::ptr::null_mut(), std::ptr::null_mut());
            assert_eq!(st, libsev_status::LIBSEV_STATUS_NULL_ARGUMENT);
        }
    }
}
