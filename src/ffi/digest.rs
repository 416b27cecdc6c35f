//! C ABI: the expected legacy-SEV launch digest on its own (`libsev_launch_digest`), for
//! owners and tools that predict a launch digest before any platform or session exists
//! (`sev-snp-measure --mode sev` computes the same value).
//!
//! Flow: `libsev_launch_digest_new` → `_update` with every byte the hypervisor passes to
//! LAUNCH_UPDATE_DATA, in order → `_value` (32 bytes; the builder stays usable) → `_free`.
//! Give the value to `libsev_owner_session_set_launch_digest` to check a measurement.

use super::boundary::{self, CHandle, Handle, array_out, out_handle};
use super::libsev_error;
use crate::error::Result;
use crate::owner::LaunchDigest;
use crate::status::libsev_status;
use std::ffi::c_char;
use std::sync::Mutex;

/// A launch digest being built: SHA-256 over the bytes the hypervisor encrypts with
/// LAUNCH_UPDATE_DATA (and, for SEV-ES, LAUNCH_UPDATE_VMSA), in command order. How the data is
/// split into calls does not matter. Holds no secret.
///
/// Thread safety: use a handle from one thread at a time; distinct handles are independent.
#[allow(non_camel_case_types)]
pub struct libsev_launch_digest {
    h: Handle<Mutex<LaunchDigest>>,
}

impl CHandle for libsev_launch_digest {
    type Value = Mutex<LaunchDigest>;
    const NAME: &'static str = "digest";
    fn wrap(h: Handle<Mutex<LaunchDigest>>) -> Self {
        libsev_launch_digest { h }
    }
    fn handle(&self) -> &Handle<Mutex<LaunchDigest>> {
        &self.h
    }
}

/// Run a call on the digest under the C conventions.
///
/// # Safety
/// `d` NULL or a live digest handle; `err` NULL or writable.
unsafe fn with_digest(
    d: *const libsev_launch_digest,
    err: *mut libsev_error,
    f: impl FnOnce(&mut LaunchDigest) -> Result<()>,
) -> libsev_status {
    // SAFETY: forwarded contract.
    unsafe { boundary::on(d, err, |m| f(&mut *boundary::lock(m, "digest")?)) }
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
    // SAFETY: the pointers as documented; the boundary checks NULL before writing.
    unsafe {
        boundary::call(err, || {
            out_handle(out, "out")?.put(Mutex::new(LaunchDigest::new()));
            Ok(())
        })
    }
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
    // SAFETY: the pointers as documented; the boundary checks NULLs and lengths first.
    unsafe {
        with_digest(digest, err, |d| {
            d.update(boundary::input(data, len, "data")?);
            Ok(())
        })
    }
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
    // SAFETY: the pointers as documented; the boundary checks NULL first.
    unsafe {
        with_digest(digest, err, |d| {
            array_out(digest_out, &d.value(), "digest_out")
        })
    }
}

/// Free a launch digest (NULL is a no-op).
///
/// # Safety
/// `digest` NULL or a handle from `libsev_launch_digest_new`, not freed before and not used
/// afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_launch_digest_free(digest: *mut libsev_launch_digest) {
    // SAFETY: the caller passes NULL or a live handle, freed once.
    unsafe { boundary::free(digest) }
}

/// The message of the handle's last failure ("" if none, or for NULL). The text belongs to
/// the calling thread: it stays valid until this thread asks again for the same handle, or the
/// handle is freed. See also `libsev_launch_digest_last_error_copy`.
///
/// # Safety
/// `digest` NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_launch_digest_last_error(
    digest: *const libsev_launch_digest,
) -> *const c_char {
    // SAFETY: the caller passes NULL or a live handle.
    unsafe { boundary::last_error(digest) }
}

/// Copy the message of the handle's last failure, with its terminating NUL, into `buf` under
/// the buffer rule (as `libsev_platform_last_error_copy`). Never changes the last error.
///
/// # Safety
/// `digest` NULL or live; `buf` NULL or writable for `len` bytes; `out_len` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_launch_digest_last_error_copy(
    digest: *const libsev_launch_digest,
    buf: *mut c_char,
    len: usize,
    out_len: *mut usize,
) -> libsev_status {
    // SAFETY: the pointers as documented.
    unsafe { boundary::last_error_copy(digest, buf, len, out_len) }
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
