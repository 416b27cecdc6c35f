//! Logging through a caller-supplied callback. Nothing is printed by default.
//!
//! Every firmware command is logged (at `DEBUG` on success, `WARN` on failure) with its
//! result. Messages never contain secret material (keys, TEK/TIK, secrets, plaintext).

use std::ffi::{CString, c_char, c_void};
use std::sync::RwLock;

/// Log levels, from most to least severe.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[allow(non_camel_case_types)]
pub enum libsev_log_level {
    LIBSEV_LOG_ERROR = 1,
    LIBSEV_LOG_WARN = 2,
    LIBSEV_LOG_INFO = 3,
    LIBSEV_LOG_DEBUG = 4,
    LIBSEV_LOG_TRACE = 5,
}

pub use libsev_log_level as Level;

/// A log callback: level, a NUL-terminated message valid only during the call, and the
/// user data given to `libsev_set_log_callback`. It may be called from any thread that calls
/// into libsev.
#[allow(non_camel_case_types)]
pub type libsev_log_callback = Option<
    unsafe extern "C" fn(level: libsev_log_level, message: *const c_char, user: *mut c_void),
>;

/// A Rust-side sink, for Rust users and tests.
pub type RustSink = Box<dyn Fn(Level, &str) + Send + Sync>;

enum Sink {
    None,
    C {
        cb: unsafe extern "C" fn(libsev_log_level, *const c_char, *mut c_void),
        user: usize,
        max: Level,
    },
    Rust {
        f: RustSink,
        max: Level,
    },
}

static SINK: RwLock<Sink> = RwLock::new(Sink::None);

/// Install (or with `None`, remove) the C callback; messages above `max` are dropped.
pub fn set_c_callback(cb: libsev_log_callback, user: *mut c_void, max: Level) {
    let sink = match cb {
        Some(cb) => Sink::C {
            cb,
            user: user as usize,
            max,
        },
        None => Sink::None,
    };
    *SINK.write().unwrap_or_else(|e| e.into_inner()) = sink;
}

/// Install a Rust closure as the sink.
pub fn set_rust_sink(f: RustSink, max: Level) {
    *SINK.write().unwrap_or_else(|e| e.into_inner()) = Sink::Rust { f, max };
}

/// Remove any sink.
pub fn clear() {
    *SINK.write().unwrap_or_else(|e| e.into_inner()) = Sink::None;
}

/// Whether a message at `level` would reach a sink (so callers can skip formatting).
pub fn enabled(level: Level) -> bool {
    match &*SINK.read().unwrap_or_else(|e| e.into_inner()) {
        Sink::None => false,
        Sink::C { max, .. } | Sink::Rust { max, .. } => level <= *max,
    }
}

/// Emit one message.
pub fn emit(level: Level, message: &str) {
    let guard = SINK.read().unwrap_or_else(|e| e.into_inner());
    match &*guard {
        Sink::None => {}
        Sink::C { cb, user, max } => {
            if level <= *max {
                let c = CString::new(message.replace('\0', "?")).unwrap_or_default();
                // SAFETY: the callback was registered by the caller with this contract: it
                // receives a NUL-terminated string valid for the call and its own user pointer.
                unsafe { cb(level, c.as_ptr(), *user as *mut c_void) };
            }
        }
        Sink::Rust { f, max } => {
            if level <= *max {
                f(level, message)
            }
        }
    }
}

/// Log with `format!` arguments, formatting only when a sink wants the level.
#[macro_export]
macro_rules! sev_log {
    ($level:expr, $($arg:tt)*) => {
        if $crate::log::enabled($level) {
            $crate::log::emit($level, &format!($($arg)*));
        }
    };
}
