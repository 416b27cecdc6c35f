//! The C ABI. Conventions (every exported function follows them):
//!
//! * every symbol starts with `libsev_`, every constant with `LIBSEV_`;
//! * functions return a `libsev_status` (`uint32_t`, 0 = OK) and, when the caller passes a
//!   non-NULL `libsev_error *`, fill it with both error channels and a message;
//! * handles are opaque pointers: `libsev_X_new(..., libsev_X **out)`, `libsev_X_free(NULL)`
//!   is a no-op; each handle keeps the message of its last failure
//!   (`libsev_X_last_error`, `libsev_X_last_error_copy`);
//! * every export runs inside the boundary's frame (panics caught, poisoned handles refused,
//!   log messages delivered with no lock held) and checks every pointer;
//! * output buffers follow `(uint8_t *buf, size_t len, size_t *out_len)`: a NULL or short
//!   buffer gives `LIBSEV_STATUS_BUFFER_TOO_SMALL` with the needed size in `*out_len`, and
//!   nothing is written to `buf` on any failure.
//!
//! Layout: `boundary` (crate-private) is the only code that dereferences a caller's pointer;
//! one file per C object or family: `platform` (the platform handle and its commands),
//! `model` (the firmware model's configuration and certificates), `probe` (features and the
//! host probe), `guest` (the SEV guest handle), `launch`, `migrate`, `debug` (the SEV guest
//! commands by family), `owner`, `digest` (the expected launch digest on its own), `certs`,
//! `sizes` (every size the C API names). Later
//! generations sit beside them: `es`; `snp` (the SNP guest handle and its launch),
//! `snp_platform` (the `/dev/sev` SNP commands), `snp_owner` (chains and reports),
//! `snp_measure` (expected digest and ID blocks).

pub(crate) mod boundary;
mod certs;
mod chain_root;
mod debug;
mod digest;
mod es;
mod guest;
mod launch;
mod migrate;
mod model;
mod model_names;
mod owner;
mod platform;
mod probe;
mod sizes;
mod snp;
mod snp_measure;
mod snp_owner;
mod snp_platform;

pub use certs::*;
pub use chain_root::*;
pub use debug::*;
pub use digest::*;
pub use es::*;
pub use guest::*;
pub use launch::*;
pub use migrate::*;
pub use model::*;
pub use model_names::*;
pub use owner::*;
pub use platform::*;
pub use probe::*;
pub use sizes::*;
pub use snp::*;
pub use snp_measure::*;
pub use snp_owner::*;
pub use snp_platform::*;

use crate::status::{fw, libsev_status};
use std::ffi::{CStr, CString, c_char, c_void};
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

/// The library version as `"MAJOR.MINOR.PATCH"` (static string).
#[unsafe(no_mangle)]
pub extern "C" fn libsev_version() -> *const c_char {
    static V: &CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(c) => c,
            Err(_) => c"unknown",
        };
    boundary::value(c"unknown".as_ptr(), || V.as_ptr())
}

/// A static description of a `libsev_status` value (any `uint32_t` is accepted).
#[unsafe(no_mangle)]
pub extern "C" fn libsev_status_str(status: u32) -> *const c_char {
    boundary::value(c"unknown libsev status".as_ptr(), || {
        static_cstr(
            libsev_status::from_u32(status)
                .map(|s| s.as_str())
                .unwrap_or("unknown libsev status"),
        )
    })
}

/// A static name for a firmware status (e.g. `"BAD_MEASUREMENT"`), `"UNKNOWN"` otherwise.
#[unsafe(no_mangle)]
pub extern "C" fn libsev_fw_error_str(fw_error: u32) -> *const c_char {
    boundary::value(c"UNKNOWN".as_ptr(), || static_cstr(fw::name(fw_error)))
}

/// A static sentence describing a firmware status.
#[unsafe(no_mangle)]
pub extern "C" fn libsev_fw_error_description(fw_error: u32) -> *const c_char {
    boundary::value(c"unknown firmware status".as_ptr(), || {
        static_cstr(fw::describe(fw_error))
    })
}

/// Intern a `&'static str` as a C string that lives for the whole process.
fn static_cstr(s: &'static str) -> *const c_char {
    use std::collections::HashMap;
    use std::sync::OnceLock;
    static CACHE: OnceLock<Mutex<HashMap<&'static str, &'static CStr>>> = OnceLock::new();
    // The map only ever gains complete entries: a panic cannot leave it inconsistent.
    let mut map = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    map.entry(s)
        .or_insert_with(|| Box::leak(CString::new(s).unwrap_or_default().into_boxed_c_str()))
        .as_ptr()
}

/// Install a log callback receiving messages up to `max_level`; NULL removes it. Logging is
/// process-wide.
///
/// The callback runs on the thread whose libsev call is being logged, before that call
/// returns, with no libsev lock held: it may call any libsev function, including this one
/// (to replace or remove itself) and functions on the very handle whose call is being logged.
/// Messages caused by libsev calls made from inside the callback are not logged (no
/// recursion).
///
/// When this function returns, no call of the previous callback is running on another thread
/// and none will start, so its `user` data may be freed; the one exception is a call made from
/// inside a callback, which returns at once (it cannot wait for callbacks that may be waiting
/// for it).
#[unsafe(no_mangle)]
pub extern "C" fn libsev_set_log_callback(
    callback: crate::log::libsev_log_callback,
    user: *mut c_void,
    max_level: crate::log::libsev_log_level,
) {
    boundary::value((), || crate::log::set_c_callback(callback, user, max_level))
}

#[cfg(test)]
mod handle_tests;
#[cfg(test)]
mod platform_guest_tests;
#[cfg(test)]
mod seam_tests;
#[cfg(test)]
mod surface_tests;
