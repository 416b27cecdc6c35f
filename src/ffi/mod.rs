//! The C ABI. Conventions (every exported function follows them):
//!
//! * every symbol starts with `libsev_`, every constant with `LIBSEV_`;
//! * functions return a `libsev_status` (`uint32_t`, 0 = OK) and, when the caller passes a
//!   non-NULL `libsev_error *`, fill it with both error channels and a message;
//! * handles are opaque pointers: `libsev_X_new(..., libsev_X **out)`, `libsev_X_free(NULL)`
//!   is a no-op; each handle keeps the message of its last failure
//!   (`libsev_X_last_error`);
//! * every export catches panics ([`guard`]) and checks every pointer;
//! * output buffers follow `(uint8_t *buf, size_t len, size_t *out_len)`: a NULL or short
//!   buffer gives `LIBSEV_STATUS_BUFFER_TOO_SMALL` with the needed size in `*out_len`, and
//!   nothing is written to `buf` on any failure.

// The helpers below take the C caller's raw pointers and dereference them under the C
// contract that each exported function documents; they are the checked boundary by design.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

pub mod certs;
pub mod digest;
pub mod es;
pub mod guest;
pub mod model;
pub mod owner;
pub mod platform;
pub mod snp;
pub mod snp_owner;

use crate::error::{Error, Result};
use crate::status::{Command, Status, fw, libsev_status};
use std::ffi::{CStr, CString, c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;

/// Size of `libsev_error.message`, including the terminating NUL.
pub const LIBSEV_ERROR_MESSAGE_LEN: usize = 256;

/// Details of a failure. Pass a pointer to one (or NULL) as the last argument of any call.
///
/// On failure every field is written; on success `status` is set to 0 and the rest is
/// cleared.
#[repr(C)]
pub struct libsev_error {
    /// The `libsev_status` the call returned.
    pub status: u32,
    /// The firmware status (`kvm_sev_cmd.error`), 0 when the firmware did not fail.
    pub fw_error: u32,
    /// The OS errno of the failed ioctl or open, 0 when none.
    pub os_errno: i32,
    /// The `libsev_command` that failed (`LIBSEV_CMD_NONE` for argument checks).
    pub command: u32,
    /// A NUL-terminated message with context and, for known traps, a hint.
    pub message: [c_char; LIBSEV_ERROR_MESSAGE_LEN],
}

/// The last failure message of one handle.
#[derive(Default)]
pub struct LastError(Mutex<Option<CString>>);

impl LastError {
    /// Record a failure message.
    pub fn set(&self, msg: &str) {
        let c = CString::new(msg.replace('\0', "?")).unwrap_or_default();
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(c);
    }

    /// The message as a C string valid until the next call on the same handle.
    pub fn as_ptr(&self) -> *const c_char {
        match &*self.0.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(c) => c.as_ptr(),
            None => c"".as_ptr(),
        }
    }
}

fn fill_error(out: *mut libsev_error, e: Option<&Error>) {
    if out.is_null() {
        return;
    }
    // SAFETY: the caller passed a pointer to a writable libsev_error (documented contract);
    // NULL was excluded above.
    let out = unsafe { &mut *out };
    out.message = [0; LIBSEV_ERROR_MESSAGE_LEN];
    match e {
        None => {
            out.status = 0;
            out.fw_error = 0;
            out.os_errno = 0;
            out.command = Command::LIBSEV_CMD_NONE as u32;
        }
        Some(e) => {
            out.status = e.status as u32;
            out.fw_error = e.fw_error;
            out.os_errno = e.os_errno;
            out.command = e.command as u32;
            let bytes = e.message.as_bytes();
            let n = bytes.len().min(LIBSEV_ERROR_MESSAGE_LEN - 1);
            for (d, s) in out.message.iter_mut().zip(&bytes[..n]) {
                *d = *s as c_char;
            }
        }
    }
}

/// Run the body of an exported function: catch panics, map errors to a status, fill the
/// caller's `libsev_error` and the handle's last-error message, and log failures.
pub fn guard<F>(err: *mut libsev_error, last: Option<&LastError>, f: F) -> libsev_status
where
    F: FnOnce() -> Result<()>,
{
    let result = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => {
            let what = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(Error::new(
                Status::LIBSEV_STATUS_INTERNAL,
                format!("internal error (caught panic): {what}"),
            ))
        }
    };
    match result {
        Ok(()) => {
            fill_error(err, None);
            libsev_status::LIBSEV_STATUS_OK
        }
        Err(e) => {
            fill_error(err, Some(&e));
            if let Some(l) = last {
                l.set(&e.message);
            }
            crate::sev_log!(crate::log::Level::LIBSEV_LOG_DEBUG, "{}", e.message);
            e.status
        }
    }
}

/// A required input pointer: NULL is an argument error naming the parameter.
pub fn need<'a, T>(p: *const T, name: &str) -> Result<&'a T> {
    if p.is_null() {
        return Err(Error::new(
            Status::LIBSEV_STATUS_NULL_ARGUMENT,
            format!("{name} is NULL"),
        ));
    }
    // SAFETY: non-NULL, and the C contract says it points to a valid T for the call.
    Ok(unsafe { &*p })
}

/// A required output pointer.
pub fn need_mut<'a, T>(p: *mut T, name: &str) -> Result<&'a mut T> {
    if p.is_null() {
        return Err(Error::new(
            Status::LIBSEV_STATUS_NULL_ARGUMENT,
            format!("{name} is NULL"),
        ));
    }
    // SAFETY: non-NULL, and the C contract says it points to a valid, writable T.
    Ok(unsafe { &mut *p })
}

/// An input byte buffer `(ptr, len)`; NULL is allowed only when `len == 0`.
pub fn bytes_in<'a>(p: *const u8, len: usize, name: &str) -> Result<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Error::new(
            Status::LIBSEV_STATUS_NULL_ARGUMENT,
            format!("{name} is NULL but its length is {len}"),
        ));
    }
    // SAFETY: non-NULL; the caller guarantees `len` readable bytes at `p` for the call.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// A fixed-size input (`N` bytes at `p`).
pub fn array_in<const N: usize>(p: *const u8, name: &str) -> Result<[u8; N]> {
    let s = bytes_in(p, N, name)?;
    Ok(s.try_into().expect("length N"))
}

/// A NUL-terminated UTF-8 string argument.
pub fn str_in<'a>(p: *const c_char, name: &str) -> Result<&'a str> {
    let p = need(p, name)?;
    // SAFETY: non-NULL; the caller guarantees a NUL-terminated string.
    let c = unsafe { CStr::from_ptr(p) };
    c.to_str().map_err(|_| {
        Error::new(
            Status::LIBSEV_STATUS_INVALID_STRING,
            format!("{name} is not valid UTF-8"),
        )
    })
}

/// Copy `data` out under the buffer rule: `*out_len` always receives `data.len()`; if `buf` is
/// NULL or `len` is short, nothing is written to `buf` and `BUFFER_TOO_SMALL` is returned.
pub fn bytes_out(buf: *mut u8, len: usize, out_len: *mut usize, data: &[u8]) -> Result<()> {
    let out_len = need_mut(out_len, "out_len")?;
    *out_len = data.len();
    if buf.is_null() || len < data.len() {
        return Err(Error::new(
            Status::LIBSEV_STATUS_BUFFER_TOO_SMALL,
            format!(
                "buffer too small: {} bytes needed, {} given{}",
                data.len(),
                if buf.is_null() { 0 } else { len },
                if buf.is_null() { " (NULL)" } else { "" }
            ),
        ));
    }
    // SAFETY: buf is non-NULL with at least `len >= data.len()` writable bytes (C contract).
    unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), buf, data.len()) };
    Ok(())
}

/// Copy a fixed-size output (`N` bytes) to `p`, which must not be NULL.
pub fn array_out(p: *mut u8, data: &[u8], name: &str) -> Result<()> {
    need_mut(p, name)?;
    // SAFETY: non-NULL; the caller guarantees `data.len()` writable bytes (documented size).
    unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), p, data.len()) };
    Ok(())
}

/// Move a Rust value into a new opaque handle.
pub fn into_handle<T>(value: T, out: &mut *mut T) {
    *out = Box::into_raw(Box::new(value));
}

/// Free a handle made by [`into_handle`]; NULL is a no-op.
///
/// # Safety
/// `p` must be NULL or a pointer returned by [`into_handle`] for the same `T`, not yet freed.
pub unsafe fn free_handle<T>(p: *mut T) {
    if !p.is_null() {
        // SAFETY: per the contract, `p` came from Box::into_raw and is freed once.
        drop(unsafe { Box::from_raw(p) });
    }
}

/// The library version as `"MAJOR.MINOR.PATCH"` (static string).
#[unsafe(no_mangle)]
pub extern "C" fn libsev_version() -> *const c_char {
    static V: &CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(c) => c,
            Err(_) => c"unknown",
        };
    V.as_ptr()
}

/// A static description of a `libsev_status` value (any `uint32_t` is accepted).
#[unsafe(no_mangle)]
pub extern "C" fn libsev_status_str(status: u32) -> *const c_char {
    static_cstr(
        libsev_status::from_u32(status)
            .map(|s| s.as_str())
            .unwrap_or("unknown libsev status"),
    )
}

/// A static name for a firmware status (e.g. `"BAD_MEASUREMENT"`), `"UNKNOWN"` otherwise.
#[unsafe(no_mangle)]
pub extern "C" fn libsev_fw_error_str(fw_error: u32) -> *const c_char {
    static_cstr(fw::name(fw_error))
}

/// A static sentence describing a firmware status.
#[unsafe(no_mangle)]
pub extern "C" fn libsev_fw_error_description(fw_error: u32) -> *const c_char {
    static_cstr(fw::describe(fw_error))
}

/// Intern a `&'static str` as a C string that lives for the whole process.
fn static_cstr(s: &'static str) -> *const c_char {
    use std::collections::HashMap;
    use std::sync::OnceLock;
    static CACHE: OnceLock<Mutex<HashMap<&'static str, &'static CStr>>> = OnceLock::new();
    let mut map = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    map.entry(s)
        .or_insert_with(|| Box::leak(CString::new(s).unwrap_or_default().into_boxed_c_str()))
        .as_ptr()
}

/// Install a log callback receiving messages up to `max_level`; NULL removes it. Logging is
/// process-wide. The callback may be called from any thread that calls into libsev.
#[unsafe(no_mangle)]
pub extern "C" fn libsev_set_log_callback(
    callback: crate::log::libsev_log_callback,
    user: *mut c_void,
    max_level: crate::log::libsev_log_level,
) {
    crate::log::set_c_callback(callback, user, max_level);
}
