//! C ABI: the platform handle (`libsev_platform`: `/dev/sev` or the firmware model) and the
//! platform commands.
//!
//! Flow: `libsev_platform_open` (honours `LIBSEV_PLATFORM`) or one of `_open_kvm`,
//! `_open_kvm_without_sev`, `libsev_platform_new_emulated` → platform commands (`_status`,
//! `_pdh_cert_export`, ...) and guests (`libsev_guest_new`) → `libsev_platform_free` (guests
//! keep the platform alive, so it may be freed before them).

use super::boundary::{self, CHandle, Handle, Out, out_handle, write_out};
use super::libsev_error;
use crate::api::Platform;
use crate::error::Result;
use crate::status::libsev_status;
use crate::transport::Backend;
use std::ffi::{c_char, c_int};

/// An SEV platform: the AMD Secure Processor behind `/dev/sev`, or libsev's model of it.
///
/// Thread safety: a platform handle may be used from several threads at once (the firmware
/// commands are serialised below it), and shared by any number of guests. Each guest keeps
/// the platform alive, so `libsev_platform_free` may be called before the guests are freed.
/// `libsev_platform_last_error` reflects the most recent failure on any thread.
#[allow(non_camel_case_types)]
pub struct libsev_platform {
    h: Handle<Platform>,
}

impl CHandle for libsev_platform {
    type Value = Platform;
    const NAME: &'static str = "platform";
    fn wrap(h: Handle<Platform>) -> Self {
        libsev_platform { h }
    }
    fn handle(&self) -> &Handle<Platform> {
        &self.h
    }
}

/// `PLATFORM_STATUS` as `libsev_platform_status` returns it.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
#[allow(non_camel_case_types)]
pub struct libsev_platform_status_info {
    /// Firmware API major version.
    pub api_major: u8,
    /// Firmware API minor version.
    pub api_minor: u8,
    /// Firmware build.
    pub build: u8,
    /// Platform state: 0 UNINIT, 1 INIT, 2 WORKING.
    pub state: u8,
    /// The OCA was imported by an owner (PEK_CERT_IMPORT) rather than self-signed.
    pub owned_externally: bool,
    /// The platform was initialised with SEV-ES enabled.
    pub config_es: bool,
    /// Number of guests the firmware holds.
    pub guest_count: u32,
}

/// Open the platform that the environment variable `LIBSEV_PLATFORM` selects: unset, empty or
/// `kvm` → the kernel (`/dev/sev`, opened by libsev); `emulated` → libsev's firmware model with
/// an ephemeral identity; `emulated:DIR` → the model keeping its identity in `DIR`.
///
/// Statuses: `LIBSEV_STATUS_NO_DEVICE` when the kernel is selected and `/dev/sev` is absent
/// (there is no silent fallback to the model; the message says how to select it),
/// `LIBSEV_STATUS_PERMISSION_DENIED`, `LIBSEV_STATUS_MODEL_CONFIG` for any other value of the
/// variable, `LIBSEV_STATUS_MODEL_STATE_*` for state-directory failures,
/// `LIBSEV_STATUS_NULL_ARGUMENT` for a NULL `out`. `*out` is set only on success.
///
/// # Safety
/// `out` must be writable; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_platform_open(
    out: *mut *mut libsev_platform,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: the pointers are as the function's `# Safety` section documents; the
    // boundary checks NULLs and lengths before any access (the same holds below).
    unsafe {
        boundary::call(err, || {
            let out = out_handle(out, "out")?;
            out.put(Platform::open_default()?);
            Ok(())
        })
    }
}

/// Open the kernel platform. `sev_fd` = -1: libsev opens `/dev/sev` itself (read-write) and
/// closes it when the platform is freed. `sev_fd` >= 0: the caller's `/dev/sev` fd, which
/// libsev never closes; it must stay open, at the same number, until the platform and every
/// guest are freed (KVM re-resolves the fd number on later guest commands).
///
/// Statuses: `LIBSEV_STATUS_NO_DEVICE` (no `/dev/sev`), `LIBSEV_STATUS_PERMISSION_DENIED`,
/// `LIBSEV_STATUS_INVALID_ARGUMENT` (`sev_fd` < -1), `LIBSEV_STATUS_NULL_ARGUMENT`.
///
/// # Safety
/// `out` must be writable; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_platform_open_kvm(
    sev_fd: c_int,
    out: *mut *mut libsev_platform,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: see libsev_platform_open.
    unsafe {
        boundary::call(err, || {
            let out = out_handle(out, "out")?;
            out.put(match sev_fd {
                -1 => Platform::kvm()?,
                fd => Platform::kvm_from_fd(fd)?,
            });
            Ok(())
        })
    }
}

/// A kernel platform without `/dev/sev`, for hosts where the PSP device is absent: platform
/// commands, `libsev_guest_launch_start` and `libsev_guest_receive_start` fail with
/// `LIBSEV_STATUS_NO_DEVICE`; VMs can still be created and `libsev_guest_init` reaches KVM
/// (which then reports `LIBSEV_STATUS_NO_SEV_SUPPORT` on hosts without SEV).
///
/// # Safety
/// `out` must be writable; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_platform_open_kvm_without_sev(
    out: *mut *mut libsev_platform,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: see libsev_platform_open.
    unsafe {
        boundary::call(err, || {
            out_handle(out, "out")?.put(Platform::kvm_without_sev());
            Ok(())
        })
    }
}

/// Free a platform handle (NULL is a no-op). Guests created on it stay usable: each keeps the
/// platform alive until it is freed itself. An fd libsev opened is closed when the last user
/// is gone; a caller's fd is never closed.
///
/// # Safety
/// `platform` must be NULL or a handle from a `libsev_platform_*` constructor, not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_platform_free(platform: *mut libsev_platform) {
    // SAFETY: see libsev_platform_open.
    unsafe { boundary::free(platform) }
}

/// The message of the last failure on this handle ("" if none, or if `platform` is NULL).
/// The text belongs to the calling thread: it stays valid until this thread calls
/// `libsev_platform_last_error` on the same handle again, or the handle is freed; failures on
/// other threads never change or free it (they change what the next call returns). See also
/// `libsev_platform_last_error_copy`.
///
/// # Safety
/// `platform` must be NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_platform_last_error(
    platform: *const libsev_platform,
) -> *const c_char {
    // SAFETY: see libsev_platform_open.
    unsafe { boundary::last_error(platform) }
}

/// Copy the message of the last failure on this handle, with its terminating NUL, into `buf`
/// under the buffer rule (`*out_len` = the size needed, including the NUL; a NULL or short
/// `buf` gives `LIBSEV_STATUS_BUFFER_TOO_SMALL`). "" (size 1) when there was no failure.
/// `LIBSEV_STATUS_NULL_ARGUMENT` for a NULL `platform` or `out_len`. This call never changes
/// the handle's last error. Safe from any thread at any time.
///
/// # Safety
/// `platform` NULL or live; `buf` NULL or writable for `len` bytes; `out_len` NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_platform_last_error_copy(
    platform: *const libsev_platform,
    buf: *mut c_char,
    len: usize,
    out_len: *mut usize,
) -> libsev_status {
    // SAFETY: see libsev_platform_open.
    unsafe { boundary::last_error_copy(platform, buf, len, out_len) }
}

/// Whether the platform is libsev's firmware model (false for the kernel, and for NULL).
///
/// # Safety
/// `platform` must be NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_platform_is_emulated(platform: *const libsev_platform) -> bool {
    // SAFETY: see libsev_platform_open.
    unsafe { boundary::query(platform, false, |p| Ok(p.backend() == Backend::Model)) }
}

/// `PLATFORM_STATUS` into `*out`. Statuses: firmware statuses (`LIBSEV_STATUS_FW_*`), OS
/// statuses (`LIBSEV_STATUS_NO_DEVICE` for a platform without `/dev/sev`, ...),
/// `LIBSEV_STATUS_NULL_ARGUMENT`. `*out` is written only on success.
///
/// # Safety
/// `platform` NULL or live; `out` NULL or writable; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_platform_status(
    platform: *const libsev_platform,
    out: *mut libsev_platform_status_info,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: see libsev_platform_open.
    unsafe {
        boundary::on(platform, err, |p| {
            boundary::need_out(out, "out")?;
            let s = p.status()?;
            let info = libsev_platform_status_info {
                api_major: s.api_major,
                api_minor: s.api_minor,
                build: s.build,
                state: s.state,
                owned_externally: s.owned_externally,
                config_es: s.config_es,
                guest_count: s.guest_count,
            };
            write_out(out, info, "out")
        })
    }
}

/// `PEK_GEN`: generate a new self-signed OCA, PEK and PDH (the platform becomes self-owned).
/// The firmware requires state INIT (`LIBSEV_STATUS_FW_INVALID_PLATFORM_STATE` otherwise; the
/// kernel initialises an UNINIT platform first).
///
/// # Safety
/// `platform` NULL or live; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_platform_pek_gen(
    platform: *const libsev_platform,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: see libsev_platform_open.
    unsafe { boundary::on(platform, err, Platform::pek_gen) }
}

/// `PDH_GEN`: generate a new PDH (platform INIT or WORKING).
///
/// # Safety
/// `platform` NULL or live; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_platform_pdh_gen(
    platform: *const libsev_platform,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: see libsev_platform_open.
    unsafe { boundary::on(platform, err, Platform::pdh_gen) }
}

/// `FACTORY_RESET`: delete the platform identity (OCA, PEK, PDH, ownership). The kernel
/// refuses while guests exist (`LIBSEV_STATUS_BUSY`). The check and the reset are one step
/// serialised against every guest command (the PSP driver's command lock; on the model the
/// platform lock): a guest whose LAUNCH_START or RECEIVE_START succeeded is never wiped by a
/// concurrent reset, which then fails with `LIBSEV_STATUS_BUSY` instead.
///
/// # Safety
/// `platform` NULL or live; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_platform_factory_reset(
    platform: *const libsev_platform,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: see libsev_platform_open.
    unsafe { boundary::on(platform, err, Platform::factory_reset) }
}

/// `PEK_CSR`: the PEK as a certificate signing request (`LIBSEV_SEV_CERT_LEN` bytes) into
/// `buf`. A NULL or short `buf` gives `LIBSEV_STATUS_BUFFER_TOO_SMALL` with the size in
/// `*out_len`; nothing is written to `buf` on failure.
///
/// # Safety
/// `platform` NULL or live; `buf` NULL or `len` writable bytes; `out_len` writable; `err` NULL
/// or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_platform_pek_csr(
    platform: *const libsev_platform,
    buf: *mut u8,
    len: usize,
    out_len: *mut usize,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: see libsev_platform_open.
    unsafe {
        boundary::on(platform, err, |p| {
            let out = Out::new(buf, len, out_len, ("buf", "out_len"))?;
            out.put(&p.pek_csr()?)
        })
    }
}

/// `PEK_CERT_IMPORT`: take ownership with the PEK signed by the owner's OCA and that OCA
/// (`LIBSEV_SEV_CERT_LEN` bytes each; the firmware checks sizes, signatures and that the PEK is
/// the current one: `LIBSEV_STATUS_FW_INVALID_LENGTH`, `_FW_INVALID_CERTIFICATE`,
/// `_FW_BAD_SIGNATURE`, `_FW_ALREADY_OWNED`).
///
/// # Safety
/// `platform` NULL or live; `pek`/`oca` NULL or readable for their lengths; `err` NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_platform_pek_cert_import(
    platform: *const libsev_platform,
    pek: *const u8,
    pek_len: usize,
    oca: *const u8,
    oca_len: usize,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: see libsev_platform_open.
    unsafe {
        boundary::on(platform, err, |p| {
            let pek = boundary::required_input(pek, pek_len, "pek")?;
            let oca = boundary::required_input(oca, oca_len, "oca")?;
            p.pek_cert_import(pek, oca)
        })
    }
}

/// `PDH_CERT_EXPORT`: the PDH certificate (`LIBSEV_SEV_CERT_LEN` bytes) into `pdh_buf` and the
/// chain `PEK ‖ OCA ‖ CEK` (`LIBSEV_CERT_CHAIN_LEN` bytes; the CEK is unsigned — AMD's key
/// server signs it, see `libsev_platform_get_id`) into `chain_buf`. If either buffer is NULL
/// or short, both needed sizes are written to `*pdh_out_len` and `*chain_out_len`, nothing
/// else is written, and `LIBSEV_STATUS_BUFFER_TOO_SMALL` is returned.
///
/// # Safety
/// `platform` NULL or live; each buffer NULL or writable for its length; both `*_out_len`
/// writable; `err` NULL or writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn libsev_platform_pdh_cert_export(
    platform: *const libsev_platform,
    pdh_buf: *mut u8,
    pdh_len: usize,
    pdh_out_len: *mut usize,
    chain_buf: *mut u8,
    chain_len: usize,
    chain_out_len: *mut usize,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: see libsev_platform_open.
    unsafe {
        boundary::on(platform, err, |p| {
            let a = Out::new(pdh_buf, pdh_len, pdh_out_len, ("pdh_buf", "pdh_out_len"))?;
            let b = Out::new(
                chain_buf,
                chain_len,
                chain_out_len,
                ("chain_buf", "chain_out_len"),
            )?;
            let (pdh, chain) = p.pdh_cert_export()?;
            boundary::put_two(a, &pdh, b, &chain)
        })
    }
}

/// `GET_ID`: the chip id(s) (`LIBSEV_CHIP_ID_LEN` bytes per socket) under which AMD's key
/// server publishes this chip's signed CEK. Buffer rules as for `libsev_platform_pek_csr`.
///
/// # Safety
/// As for `libsev_platform_pek_csr`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_platform_get_id(
    platform: *const libsev_platform,
    buf: *mut u8,
    len: usize,
    out_len: *mut usize,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: see libsev_platform_open.
    unsafe {
        boundary::on(platform, err, |p| {
            let out = Out::new(buf, len, out_len, ("buf", "out_len"))?;
            out.put(&p.get_id()?)
        })
    }
}

/// The body of an export that makes a handle on a platform (`libsev_guest_new`, `_attach`
/// and their SNP twins): the platform is checked, then `out`, then `make` builds the value,
/// which is written to `*out` only on success.
///
/// # Safety
/// `platform` NULL or a live platform handle; `out` NULL or writable; `err` NULL or writable.
pub(crate) unsafe fn new_on_platform<H: CHandle>(
    platform: *const libsev_platform,
    out: *mut *mut H,
    err: *mut libsev_error,
    make: impl FnOnce(&Platform) -> Result<H::Value>,
) -> libsev_status {
    // SAFETY: forwarded contract.
    unsafe {
        boundary::call(err, || {
            let p = boundary::handle_value(platform)?;
            let out = out_handle(out, "out")?;
            out.put(make(p)?);
            Ok(())
        })
    }
}
