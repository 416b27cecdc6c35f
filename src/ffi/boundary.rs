//! The C boundary: the only code that turns a C caller's pointers into Rust values, and the
//! frame every export runs in. Crate-private: nothing here is reachable from outside the
//! crate, and every helper that dereferences a caller's pointer is an `unsafe fn` whose
//! contract is the exported function's documented one.
//!
//! * [`call`] / [`on`]: run an export that returns a `libsev_status`: catch panics, turn an
//!   [`Error`] into the status, fill the caller's `libsev_error`, record the handle's last
//!   error, and deliver the call's log messages after every lock was released
//!   ([`crate::log::Scope`]). [`value`] / [`query`] do the same for exports returning a value
//!   (a panic gives the documented default), [`free`] for the `*_free` functions.
//! * [`Handle`]: what an opaque C handle points to: the value, its last-error message and a
//!   poisoned flag. A panic inside a call on a handle poisons it: later calls on it fail
//!   with `LIBSEV_STATUS_INVALID_STATE` and say why, instead of running on a state the panic
//!   may have left half-changed.
//! * Inputs ([`input`], [`required_input`], [`optional_input`], [`array_in`], [`reference`])
//!   and outputs ([`Out`] with the two-call rule, [`write_out`], [`write_opt`],
//!   [`array_out`], [`OutHandle`]). [`too_small`] is the one place that words
//!   `LIBSEV_STATUS_BUFFER_TOO_SMALL`.

use super::{LIBSEV_ERROR_MESSAGE_LEN, libsev_error};
use crate::api::Fetched;
use crate::error::{Error, Result};
use crate::log::Scope;
use crate::status::{Command, Status, libsev_status};
use std::collections::HashMap;
use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::ThreadId;

/// What a C handle points to.
pub(crate) struct Handle<T> {
    pub(crate) value: T,
    last: LastError,
    poisoned: AtomicBool,
}

/// The C handle types (`libsev_platform`, `libsev_guest`, ...): each wraps one [`Handle`].
pub(crate) trait CHandle: Sized {
    type Value;
    /// The parameter name used in messages ("guest", "platform", ...).
    const NAME: &'static str;
    fn wrap(h: Handle<Self::Value>) -> Self;
    fn handle(&self) -> &Handle<Self::Value>;
}

/// The last failure message of one handle.
///
/// `libsev_X_last_error` hands out a pointer into a reference-counted copy that is kept per
/// reading thread: it stays valid until the same thread asks again for the same handle, or the
/// handle is freed. Failures and reads on other threads never free it.
#[derive(Default)]
struct LastError(Mutex<LastInner>);

#[derive(Default)]
struct LastInner {
    current: Option<Arc<CStr>>,
    readers: HashMap<ThreadId, Arc<CStr>>,
}

impl LastError {
    fn lock(&self) -> MutexGuard<'_, LastInner> {
        // Every update is a single assignment: a panic cannot leave it half-written.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set(&self, msg: &str) {
        let c = CString::new(msg.replace('\0', "?")).unwrap_or_default();
        self.lock().current = Some(Arc::from(c));
    }

    fn current(&self) -> Option<Arc<CStr>> {
        self.lock().current.clone()
    }

    fn ptr_for_this_thread(&self) -> *const c_char {
        let mut g = self.lock();
        match g.current.clone() {
            None => c"".as_ptr(),
            Some(c) => {
                let p = c.as_ptr();
                g.readers.insert(std::thread::current().id(), c);
                p
            }
        }
    }
}

impl<T> Handle<T> {
    pub(crate) fn new(value: T) -> Self {
        Handle {
            value,
            last: LastError::default(),
            poisoned: AtomicBool::new(false),
        }
    }

    fn check(&self, name: &str) -> Result<&T> {
        if self.poisoned.load(Ordering::Acquire) {
            return Err(poisoned(name));
        }
        Ok(&self.value)
    }
}

/// The error for a handle (or a lock inside one) that a panic left in an unknown state.
pub(crate) fn poisoned(name: &str) -> Error {
    Error::new(
        Status::LIBSEV_STATUS_INVALID_STATE,
        format!(
            "{name} is unusable: an earlier call on it panicked (a libsev bug, please report \
             it) and may have left it half-changed; free it"
        ),
    )
}

/// Lock a mutex inside a handle; a poisoned one is reported, never used.
pub(crate) fn lock<'a, T>(m: &'a Mutex<T>, name: &str) -> Result<MutexGuard<'a, T>> {
    m.lock().map_err(|_| poisoned(name))
}

fn fill_error(out: *mut libsev_error, e: Option<&Error>) {
    if out.is_null() {
        return;
    }
    let mut v = libsev_error {
        status: 0,
        fw_error: 0,
        os_errno: 0,
        command: Command::LIBSEV_CMD_NONE as u32,
        message: [0; LIBSEV_ERROR_MESSAGE_LEN],
    };
    if let Some(e) = e {
        v.status = e.status as u32;
        v.fw_error = e.fw_error;
        v.os_errno = e.os_errno;
        v.command = e.command as u32;
        let bytes = e.message.as_bytes();
        let n = bytes.len().min(LIBSEV_ERROR_MESSAGE_LEN - 1);
        for (d, s) in v.message.iter_mut().zip(&bytes[..n]) {
            *d = *s as c_char;
        }
    }
    // SAFETY: `out` is non-NULL and, by the contract of every export taking `err`, points to
    // a writable libsev_error.
    unsafe { out.write(v) };
}

fn panic_error(p: Box<dyn std::any::Any + Send>, on_handle: bool) -> Error {
    let what = p
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    let tail = if on_handle {
        "; the handle is unusable now: free it"
    } else {
        ""
    };
    Error::new(
        Status::LIBSEV_STATUS_INTERNAL,
        format!("internal error (caught panic): {what}{tail}"),
    )
}

fn run<T>(
    err: *mut libsev_error,
    h: Option<&Handle<T>>,
    f: impl FnOnce() -> Result<()>,
) -> libsev_status {
    let scope = Scope::enter();
    let result = catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| {
        if let Some(h) = h {
            h.poisoned.store(true, Ordering::Release);
        }
        Err(panic_error(p, h.is_some()))
    });
    let status = match result {
        Ok(()) => {
            fill_error(err, None);
            libsev_status::LIBSEV_STATUS_OK
        }
        Err(e) => {
            fill_error(err, Some(&e));
            if let Some(h) = h {
                h.last.set(&e.message);
            }
            crate::sev_log!(crate::log::Level::LIBSEV_LOG_DEBUG, "{}", e.message);
            e.status
        }
    };
    // Deliver the call's log messages now that every lock it took is released.
    drop(scope);
    status
}

/// Run an export returning a status that is not a call on a handle (constructors, owner and
/// certificate functions).
///
/// # Safety
/// `err` must be NULL or point to a writable `libsev_error`.
pub(crate) unsafe fn call(err: *mut libsev_error, f: impl FnOnce() -> Result<()>) -> libsev_status {
    run::<()>(err, None, f)
}

/// Run an export returning a status on the handle `p`: NULL is `NULL_ARGUMENT` naming the
/// handle, a poisoned handle `INVALID_STATE`; failures are recorded as its last error.
///
/// # Safety
/// `p` must be NULL or a live handle of type `H`; `err` NULL or a writable `libsev_error`.
pub(crate) unsafe fn on<H: CHandle>(
    p: *const H,
    err: *mut libsev_error,
    f: impl FnOnce(&H::Value) -> Result<()>,
) -> libsev_status {
    // SAFETY: forwarded contract.
    match unsafe { p.as_ref() } {
        None => run::<()>(err, None, || Err(null_arg(H::NAME))),
        Some(h) => {
            let h = h.handle();
            run(err, Some(h), || f(h.check(H::NAME)?))
        }
    }
}

/// Run an export returning a plain value; a panic gives `default`.
pub(crate) fn value<R>(default: R, f: impl FnOnce() -> R) -> R {
    let _scope = Scope::enter();
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(default)
}

/// A value read from a handle: `default` for NULL, a poisoned handle, an error or a panic
/// (which poisons the handle).
///
/// # Safety
/// `p` must be NULL or a live handle of type `H`.
pub(crate) unsafe fn query<H: CHandle, R>(
    p: *const H,
    default: R,
    f: impl FnOnce(&H::Value) -> Result<R>,
) -> R {
    // SAFETY: forwarded contract.
    let Some(h) = (unsafe { p.as_ref() }).map(CHandle::handle) else {
        return default;
    };
    let _scope = Scope::enter();
    match catch_unwind(AssertUnwindSafe(|| h.check(H::NAME).and_then(f))) {
        Ok(Ok(v)) => v,
        Ok(Err(_)) => default,
        Err(_) => {
            h.poisoned.store(true, Ordering::Release);
            default
        }
    }
}

/// `libsev_X_last_error`: the message of the handle's last failure, "" for none or NULL.
///
/// # Safety
/// `p` must be NULL or a live handle of type `H`.
pub(crate) unsafe fn last_error<H: CHandle>(p: *const H) -> *const c_char {
    value(c"".as_ptr(), || {
        // SAFETY: forwarded contract.
        match unsafe { p.as_ref() } {
            None => c"".as_ptr(),
            Some(h) => h.handle().last.ptr_for_this_thread(),
        }
    })
}

/// `libsev_X_last_error_copy`: the message with its NUL under the two-call rule. Never changes
/// the last error itself.
///
/// # Safety
/// `p` NULL or a live handle of type `H`; `buf` NULL or writable for `len` bytes; `out_len`
/// NULL or writable.
pub(crate) unsafe fn last_error_copy<H: CHandle>(
    p: *const H,
    buf: *mut c_char,
    len: usize,
    out_len: *mut usize,
) -> libsev_status {
    // SAFETY: forwarded contract.
    let h = unsafe { p.as_ref() };
    run::<()>(std::ptr::null_mut(), None, || {
        let h = h.ok_or_else(|| null_arg(H::NAME))?.handle();
        // SAFETY: forwarded contract.
        let out = unsafe { Out::new(buf.cast(), len, out_len, ("buf", "out_len")) }?;
        let msg = h.last.current();
        out.put(msg.as_deref().unwrap_or(c"").to_bytes_with_nul())
    })
}

/// `libsev_X_free`: NULL is a no-op; a panic while dropping is contained.
///
/// # Safety
/// `p` must be NULL or a handle made by [`OutHandle::put`] for `H`, not yet freed, and not in
/// use by another thread.
pub(crate) unsafe fn free<H: CHandle>(p: *mut H) {
    value((), || {
        if !p.is_null() {
            // SAFETY: per the contract, `p` came from Box::into_raw and is freed once.
            drop(unsafe { Box::from_raw(p) });
        }
    })
}

/// The `*out` of a constructor, checked before the work is done and written only at the end.
pub(crate) struct OutHandle<H>(*mut *mut H);

/// # Safety
/// `p` must be NULL or writable.
pub(crate) unsafe fn out_handle<H>(p: *mut *mut H, name: &str) -> Result<OutHandle<H>> {
    if p.is_null() {
        return Err(null_arg(name));
    }
    Ok(OutHandle(p))
}

impl<H: CHandle> OutHandle<H> {
    pub(crate) fn put(self, value: H::Value) {
        let h = Box::into_raw(Box::new(H::wrap(Handle::new(value))));
        // SAFETY: non-NULL and writable (the contract of `out_handle`).
        unsafe { self.0.write(h) };
    }
}

/// The value of a live handle (for a call that takes a second handle, e.g. the platform of
/// `libsev_guest_new`).
///
/// # Safety
/// `p` must be NULL or a live handle of type `H`.
pub(crate) unsafe fn handle_value<'a, H: CHandle + 'a>(p: *const H) -> Result<&'a H::Value> {
    // SAFETY: forwarded contract.
    match unsafe { p.as_ref() } {
        None => Err(null_arg(H::NAME)),
        Some(h) => h.handle().check(H::NAME),
    }
}

pub(crate) fn null_arg(name: &str) -> Error {
    Error::new(
        Status::LIBSEV_STATUS_NULL_ARGUMENT,
        format!("{name} is NULL"),
    )
}

/// A length that no object of this process can have (slices are limited to `isize::MAX`).
fn impossible_len(name: &str, len: usize) -> Error {
    Error::new(
        Status::LIBSEV_STATUS_INVALID_LENGTH,
        format!("{name}: a length of {len} bytes cannot be a buffer of this process"),
    )
}

/// A length that must be one of a buffer of this process (at most `isize::MAX`), for a buffer
/// libsev passes on as an address without reading it itself.
pub(crate) fn buffer_len(len: usize, name: &str) -> Result<()> {
    if len > isize::MAX as usize {
        return Err(impossible_len(name, len));
    }
    Ok(())
}

/// An input byte buffer `(p, len)`; NULL is allowed only when `len == 0`.
///
/// # Safety
/// `p` must be NULL or readable for `len` bytes during the call, not written by others.
pub(crate) unsafe fn input<'a>(p: *const u8, len: usize, name: &str) -> Result<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Error::new(
            Status::LIBSEV_STATUS_NULL_ARGUMENT,
            format!("{name} is NULL but its length is {len}"),
        ));
    }
    if len > isize::MAX as usize {
        return Err(impossible_len(name, len));
    }
    // SAFETY: non-NULL, at most isize::MAX bytes, readable (contract).
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// An input that must not be NULL even when empty.
///
/// # Safety
/// As [`input`].
pub(crate) unsafe fn required_input<'a>(p: *const u8, len: usize, name: &str) -> Result<&'a [u8]> {
    if p.is_null() {
        return Err(null_arg(name));
    }
    // SAFETY: forwarded contract.
    unsafe { input(p, len, name) }
}

/// An optional input: NULL with length 0 is "absent".
///
/// # Safety
/// As [`input`].
pub(crate) unsafe fn optional_input<'a>(
    p: *const u8,
    len: usize,
    name: &str,
) -> Result<Option<&'a [u8]>> {
    // SAFETY: forwarded contract.
    let s = unsafe { input(p, len, name) }?;
    Ok((!s.is_empty()).then_some(s))
}

/// A fixed-size input (`N` bytes at `p`, which must not be NULL).
///
/// # Safety
/// `p` must be NULL or readable for `N` bytes.
pub(crate) unsafe fn array_in<const N: usize>(p: *const u8, name: &str) -> Result<[u8; N]> {
    if p.is_null() {
        return Err(null_arg(name));
    }
    let mut a = [0u8; N];
    // SAFETY: non-NULL and readable for N bytes (contract).
    unsafe { std::ptr::copy_nonoverlapping(p, a.as_mut_ptr(), N) };
    Ok(a)
}

/// A NUL-terminated UTF-8 string argument (NULL is an argument error).
///
/// # Safety
/// `p` must be NULL or point to a NUL-terminated string that lives for the call.
pub(crate) unsafe fn string<'a>(p: *const c_char, name: &str) -> Result<&'a str> {
    if p.is_null() {
        return Err(null_arg(name));
    }
    // SAFETY: non-NULL and NUL-terminated (contract).
    let c = unsafe { CStr::from_ptr(p) };
    c.to_str().map_err(|_| {
        Error::new(
            Status::LIBSEV_STATUS_INVALID_STRING,
            format!("{name} is not valid UTF-8"),
        )
    })
}

/// A required input object.
///
/// # Safety
/// `p` must be NULL or point to a valid `T` for the call.
pub(crate) unsafe fn reference<'a, T>(p: *const T, name: &str) -> Result<&'a T> {
    // SAFETY: forwarded contract.
    unsafe { p.as_ref() }.ok_or_else(|| null_arg(name))
}

/// Write a required output object (`NULL` is an argument error).
///
/// # Safety
/// `p` must be NULL or writable for a `T` (its old contents are not read).
pub(crate) unsafe fn write_out<T>(p: *mut T, v: T, name: &str) -> Result<()> {
    if p.is_null() {
        return Err(null_arg(name));
    }
    // SAFETY: non-NULL and writable (contract).
    unsafe { p.write(v) };
    Ok(())
}

/// Check a required output object now; write it later with [`write_out`].
pub(crate) fn need_out<T>(p: *mut T, name: &str) -> Result<()> {
    if p.is_null() {
        return Err(null_arg(name));
    }
    Ok(())
}

/// Write an optional output object (NULL: nothing).
///
/// # Safety
/// `p` must be NULL or writable for a `T`.
pub(crate) unsafe fn write_opt<T>(p: *mut T, v: T) {
    if !p.is_null() {
        // SAFETY: non-NULL and writable (contract).
        unsafe { p.write(v) };
    }
}

/// Copy a fixed-size output (`data.len()` bytes) to `p`, which must not be NULL.
///
/// # Safety
/// `p` must be NULL or writable for `data.len()` bytes.
pub(crate) unsafe fn array_out(p: *mut u8, data: &[u8], name: &str) -> Result<()> {
    if p.is_null() {
        return Err(null_arg(name));
    }
    // SAFETY: non-NULL and writable for data.len() bytes (contract).
    unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), p, data.len()) };
    Ok(())
}

/// One short buffer of a call: its name, the size it needs, and what was given (`None` for
/// NULL).
pub(crate) struct Short<'a> {
    pub(crate) name: &'a str,
    pub(crate) needed: usize,
    pub(crate) given: Option<usize>,
}

/// `LIBSEV_STATUS_BUFFER_TOO_SMALL` naming each short buffer (the one place it is worded).
pub(crate) fn too_small(shorts: &[Short<'_>]) -> Error {
    let parts: Vec<String> = shorts
        .iter()
        .map(|s| match s.given {
            Some(n) => format!("{} needs {} bytes, {n} given", s.name, s.needed),
            None => format!("{} needs {} bytes, NULL given", s.name, s.needed),
        })
        .collect();
    Error::new(
        Status::LIBSEV_STATUS_BUFFER_TOO_SMALL,
        format!("buffer too small: {}", parts.join("; ")),
    )
}

/// A caller's output buffer `(buf, len, *out_len)` under the two-call rule: `*out_len`
/// receives the needed size; a NULL or short `buf` is `BUFFER_TOO_SMALL` and is not written.
pub(crate) struct Out<'a> {
    buf: *mut u8,
    len: usize,
    out_len: *mut usize,
    name: &'a str,
}

impl<'a> Out<'a> {
    /// `out_len` NULL is an argument error.
    ///
    /// # Safety
    /// `buf` NULL or writable for `len` bytes and not read or written by others during the
    /// call; `out_len` NULL or writable.
    pub(crate) unsafe fn new(
        buf: *mut u8,
        len: usize,
        out_len: *mut usize,
        (name, len_name): (&'a str, &str),
    ) -> Result<Self> {
        if out_len.is_null() {
            return Err(null_arg(len_name));
        }
        if !buf.is_null() {
            buffer_len(len, name)?;
        }
        Ok(Out {
            buf,
            len,
            out_len,
            name,
        })
    }

    /// The range of the first `n` bytes, for [`disjoint`].
    pub(crate) fn range(&self, n: usize) -> (usize, usize, &'a str) {
        let n = if self.buf.is_null() {
            0
        } else {
            n.min(self.len)
        };
        (self.buf as usize, n, self.name)
    }

    /// Whether the buffer holds `n` bytes.
    pub(crate) fn fits(&self, n: usize) -> bool {
        !self.buf.is_null() && self.len >= n
    }

    /// Write the size output.
    pub(crate) fn set_len(&self, n: usize) {
        // SAFETY: non-NULL and writable (checked in `new`, contract).
        unsafe { self.out_len.write(n) };
    }

    /// This buffer's shortfall for `needed` bytes, if any.
    pub(crate) fn short(&self, needed: usize) -> Option<Short<'a>> {
        (!self.fits(needed)).then(|| Short {
            name: self.name,
            needed,
            given: (!self.buf.is_null()).then_some(self.len),
        })
    }

    /// Record `needed` as the size and return the error for a buffer that cannot hold it.
    pub(crate) fn too_small(&self, needed: usize) -> Error {
        self.set_len(needed);
        too_small(&[Short {
            name: self.name,
            needed,
            given: (!self.buf.is_null()).then_some(self.len),
        }])
    }

    /// The first `n` bytes of the caller's buffer, which must hold them ([`Out::fits`]).
    pub(crate) fn slice(&mut self, n: usize) -> &mut [u8] {
        assert!(self.fits(n), "Out::slice beyond the caller's buffer");
        if n == 0 {
            return &mut [];
        }
        // SAFETY: non-NULL, writable for len >= n bytes, not used by others (contract of
        // `new`); n <= len <= isize::MAX for any real buffer.
        unsafe { std::slice::from_raw_parts_mut(self.buf, n) }
    }

    /// The whole caller's buffer, for the firmware to write into directly (empty for NULL).
    pub(crate) fn buffer(&mut self) -> &mut [u8] {
        if self.buf.is_null() {
            return &mut [];
        }
        // No object of this process is larger; the firmware never needs that much.
        let n = self.len.min(isize::MAX as usize);
        // SAFETY: non-NULL, writable for len >= n bytes and not used by others during the
        // call (contract of `new`); n <= isize::MAX.
        unsafe { std::slice::from_raw_parts_mut(self.buf, n) }
    }

    /// Finish an output the firmware wrote into [`Out::buffer`]: the size written, or
    /// `BUFFER_TOO_SMALL` with the size needed.
    pub(crate) fn fetched(&self, f: Fetched) -> Result<()> {
        match f {
            Fetched::Written(n) => {
                self.set_len(n);
                Ok(())
            }
            Fetched::TooSmall(n) => Err(self.too_small(n)),
        }
    }

    /// Copy `data` out under the rule.
    pub(crate) fn put(mut self, data: &[u8]) -> Result<()> {
        self.set_len(data.len());
        if !self.fits(data.len()) {
            return Err(self.too_small(data.len()));
        }
        self.slice(data.len()).copy_from_slice(data);
        Ok(())
    }
}

/// Ranges `(address, length, name)` that libsev writes or reads at once must not overlap (an
/// output would alias an input or another output): `INVALID_ARGUMENT` naming the two.
pub(crate) fn disjoint(ranges: &[(usize, usize, &str)]) -> Result<()> {
    for (i, a) in ranges.iter().enumerate() {
        for b in &ranges[i + 1..] {
            let overlap = a.1 != 0
                && b.1 != 0
                && a.0 < b.0.saturating_add(b.1)
                && b.0 < a.0.saturating_add(a.1);
            if overlap {
                return Err(Error::arg(format!("{} and {} overlap", a.2, b.2)));
            }
        }
    }
    Ok(())
}

/// Two outputs under the rule: both sizes are always written; if either buffer is NULL or
/// short, neither is written and `BUFFER_TOO_SMALL` names the short one(s).
pub(crate) fn put_two(a: Out<'_>, da: &[u8], b: Out<'_>, db: &[u8]) -> Result<()> {
    a.set_len(da.len());
    b.set_len(db.len());
    let shorts: Vec<Short<'_>> = [a.short(da.len()), b.short(db.len())]
        .into_iter()
        .flatten()
        .collect();
    if !shorts.is_empty() {
        return Err(too_small(&shorts));
    }
    a.put(da)?;
    b.put(db)
}

#[cfg(test)]
#[path = "boundary_tests.rs"]
mod tests;
