//! libsev-preload: run an unmodified hypervisor's SEV path on libsev's firmware model.
//!
//! Loaded with `LD_PRELOAD` into a hypervisor (QEMU) and with `LIBSEV_PLATFORM=emulated` or
//! `emulated:DIR` in its environment, this library answers, from libsev's model, exactly the
//! kernel interfaces a hypervisor uses for SEV:
//!
//! * `open` / `openat` (and `open64`, `openat64`, `__open_2`, ... ) of `/dev/sev`, or of the
//!   path given as `sev-device=` on the command line: a real fd (`/dev/null` opened with the
//!   caller's flags, so `close`, `fcntl`, `poll` work) that stands for the PSP device;
//! * `ioctl(SEV_ISSUE_CMD)` on such an fd: the PSP driver's `sev_ioctl`;
//! * `ioctl(KVM_MEMORY_ENCRYPT_OP / _REG_REGION / _UNREG_REGION)` on a VM fd this process got
//!   from `KVM_CREATE_VM` on `/dev/kvm`: KVM's SEV code, the model attached to that VM.
//!
//! Everything else goes to the real libc function (`dlsym(RTLD_NEXT)`), untouched. With
//! `LIBSEV_PLATFORM` unset, empty or `kvm`, nothing at all is served. Structs, write-backs,
//! the `error` field and errnos are the kernel's (see `serve.rs`).
//!
//! Re-entrancy: a thread inside the interposer (the model reading its state directory,
//! opening its own fds) has every nested libc call passed straight through. Fork: a child
//! that does not exec cannot reach its parent's model (the model is in the parent's memory and
//! its locks may have been held at the fork); in the child every call passes through to the
//! kernel. A child that execs loads the interposer afresh.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

// The hooks take variadic C arguments as fixed ones, which is the x86-64 System V ABI's rule.
#[cfg(not(target_arch = "x86_64"))]
compile_error!("libsev-preload supports x86-64 only");

mod real;
mod serve;
mod table;
mod user;

use libc::{c_char, c_int, c_uint, c_ulong, c_void};
use std::cell::Cell;
use std::ffi::CStr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};

thread_local! {
    /// This thread is inside the interposer.
    static IN_HOOK: Cell<bool> = const { Cell::new(false) };
}

/// Set in a child after `fork()`: nothing is served there.
static FORKED: AtomicBool = AtomicBool::new(false);

pub(crate) fn errno() -> c_int {
    // SAFETY: __errno_location returns this thread's errno, always valid.
    unsafe { *libc::__errno_location() }
}

pub(crate) fn set_errno(e: c_int) {
    // SAFETY: as in `errno`.
    unsafe { *libc::__errno_location() = e }
}

/// Marks the thread as inside the interposer for its lifetime.
struct Guard;

impl Guard {
    /// `None` when the call must go straight to libc: nested in the interposer, or in a forked
    /// child.
    fn enter() -> Option<Guard> {
        if FORKED.load(Ordering::Relaxed) {
            return None;
        }
        IN_HOOK
            .try_with(|h| {
                if h.get() {
                    None
                } else {
                    h.set(true);
                    Some(Guard)
                }
            })
            .ok()
            .flatten()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = IN_HOOK.try_with(|h| h.set(false));
    }
}

/// Run one hook: straight to `real` when not allowed to interpose, else `serve` (a panic, a
/// bug, is `EIO`); the errno it chose is left in place.
fn hook(
    real: &mut dyn FnMut() -> c_int,
    serve: impl FnOnce(c_int, &mut dyn FnMut() -> c_int) -> serve::Ret,
) -> c_int {
    let saved = errno();
    let Some(_guard) = Guard::enter() else {
        return real();
    };
    let (r, e) =
        catch_unwind(AssertUnwindSafe(|| serve(saved, &mut *real))).unwrap_or((-1, libc::EIO));
    set_errno(e);
    r
}

extern "C" fn forked_child() {
    FORKED.store(true, Ordering::Relaxed);
}

/// Register the fork handler; done when the configuration is first read (by the first hook),
/// before the interposer has any state worth protecting, and only when it will serve.
pub(crate) fn register_fork_handler() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: registers a handler that only stores to an atomic.
        unsafe { libc::pthread_atfork(None, None, Some(forked_child)) };
    });
}

/// `path` as bytes (`None` for NULL: the real function reports EFAULT).
///
/// # Safety
/// `path` is NULL or a NUL-terminated string.
unsafe fn path_bytes<'a>(path: *const c_char) -> Option<&'a [u8]> {
    if path.is_null() {
        None
    } else {
        // SAFETY: per the function's contract.
        Some(unsafe { CStr::from_ptr(path) }.to_bytes())
    }
}

/// The open family: serve `path` if it is the SEV device, else call `real`.
///
/// # Safety
/// As for `open(2)`.
unsafe fn open_hook(
    path: *const c_char,
    flags: c_int,
    mode: c_uint,
    real: &mut dyn FnMut() -> c_int,
) -> c_int {
    hook(real, |saved, real| {
        // SAFETY: the caller passes open's path argument.
        match unsafe { path_bytes(path) } {
            Some(p) => serve::open(p, flags, mode, saved, real),
            None => serve::pass(saved, real),
        }
    })
}

// The exported functions. Variadic C functions (`open`'s mode, `ioctl`'s argument) are
// declared with their one optional argument as a fixed one: on x86-64 (System V) a variadic
// call passes it in the same register, and it is only read where the C function reads it.

/// `open(2)`.
///
/// # Safety
/// As for `open(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn open(path: *const c_char, flags: c_int, mode: c_uint) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    unsafe { open_hook(path, flags, mode, &mut || real::open(path, flags, mode)) }
}

/// `open64`.
///
/// # Safety
/// As for `open(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn open64(path: *const c_char, flags: c_int, mode: c_uint) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    unsafe { open_hook(path, flags, mode, &mut || real::open64(path, flags, mode)) }
}

/// `__open_2` (`_FORTIFY_SOURCE`'s open without a mode).
///
/// # Safety
/// As for `open(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __open_2(path: *const c_char, flags: c_int) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    unsafe { open_hook(path, flags, 0, &mut || real::open_2(path, flags)) }
}

/// `__open64_2`.
///
/// # Safety
/// As for `open(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __open64_2(path: *const c_char, flags: c_int) -> c_int {
    // SAFETY: the caller's arguments, passed on.
    unsafe { open_hook(path, flags, 0, &mut || real::open64_2(path, flags)) }
}

/// `openat(2)`. The device is recognised by its path as given (absolute, or relative to the
/// working directory when `dirfd` is `AT_FDCWD`).
///
/// # Safety
/// As for `openat(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn openat(
    dirfd: c_int,
    path: *const c_char,
    flags: c_int,
    mode: c_uint,
) -> c_int {
    let real = &mut || {
        // SAFETY: the caller's arguments, passed on.
        unsafe { real::openat(dirfd, path, flags, mode) }
    };
    // SAFETY: the caller's arguments.
    unsafe { openat_hook(dirfd, path, flags, mode, real) }
}

/// `openat64`.
///
/// # Safety
/// As for `openat(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn openat64(
    dirfd: c_int,
    path: *const c_char,
    flags: c_int,
    mode: c_uint,
) -> c_int {
    let real = &mut || {
        // SAFETY: the caller's arguments, passed on.
        unsafe { real::openat64(dirfd, path, flags, mode) }
    };
    // SAFETY: the caller's arguments.
    unsafe { openat_hook(dirfd, path, flags, mode, real) }
}

/// `__openat_2`.
///
/// # Safety
/// As for `openat(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __openat_2(dirfd: c_int, path: *const c_char, flags: c_int) -> c_int {
    let real = &mut || {
        // SAFETY: the caller's arguments, passed on.
        unsafe { real::openat_2(dirfd, path, flags) }
    };
    // SAFETY: the caller's arguments.
    unsafe { openat_hook(dirfd, path, flags, 0, real) }
}

/// `__openat64_2`.
///
/// # Safety
/// As for `openat(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __openat64_2(dirfd: c_int, path: *const c_char, flags: c_int) -> c_int {
    let real = &mut || {
        // SAFETY: the caller's arguments, passed on.
        unsafe { real::openat64_2(dirfd, path, flags) }
    };
    // SAFETY: the caller's arguments.
    unsafe { openat_hook(dirfd, path, flags, 0, real) }
}

/// # Safety
/// As for `openat(2)`.
unsafe fn openat_hook(
    dirfd: c_int,
    path: *const c_char,
    flags: c_int,
    mode: c_uint,
    real: &mut dyn FnMut() -> c_int,
) -> c_int {
    // SAFETY: the caller passes openat's path argument.
    let absolute = unsafe { path_bytes(path) }.is_some_and(|p| p.first() == Some(&b'/'));
    if !absolute && dirfd != libc::AT_FDCWD {
        return real();
    }
    // SAFETY: the caller's arguments.
    unsafe { open_hook(path, flags, mode, real) }
}

/// `ioctl(2)`. The request is compared on its low 32 bits, as the kernel does.
///
/// # Safety
/// As for `ioctl(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioctl(fd: c_int, request: c_ulong, arg: *mut c_void) -> c_int {
    hook(
        &mut || {
            // SAFETY: the caller's arguments, passed on.
            unsafe { real::ioctl(fd, request, arg) }
        },
        |saved, real| serve::ioctl(fd, request, arg as u64, saved, real),
    )
}

/// `close(2)`.
///
/// # Safety
/// As for `close(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn close(fd: c_int) -> c_int {
    hook(
        &mut || {
            // SAFETY: the caller's argument, passed on.
            unsafe { real::close(fd) }
        },
        |saved, real| serve::close(fd, saved, real),
    )
}

/// `close_range(2)`.
///
/// # Safety
/// As for `close_range(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn close_range(first: c_uint, last: c_uint, flags: c_int) -> c_int {
    hook(
        &mut || {
            // SAFETY: the caller's arguments, passed on.
            unsafe { real::close_range(first, last, flags) }
        },
        |saved, real| serve::close_range(first, last, flags, saved, real),
    )
}

/// `dup(2)`.
///
/// # Safety
/// As for `dup(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dup(fd: c_int) -> c_int {
    hook(
        &mut || {
            // SAFETY: the caller's argument, passed on.
            unsafe { real::dup(fd) }
        },
        |saved, real| serve::dup(fd, None, saved, real),
    )
}

/// `dup2(2)`.
///
/// # Safety
/// As for `dup2(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dup2(old: c_int, new: c_int) -> c_int {
    hook(
        &mut || {
            // SAFETY: the caller's arguments, passed on.
            unsafe { real::dup2(old, new) }
        },
        |saved, real| serve::dup(old, Some(new), saved, real),
    )
}

/// `dup3(2)`.
///
/// # Safety
/// As for `dup3(2)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dup3(old: c_int, new: c_int, flags: c_int) -> c_int {
    hook(
        &mut || {
            // SAFETY: the caller's arguments, passed on.
            unsafe { real::dup3(old, new, flags) }
        },
        |saved, real| serve::dup(old, Some(new), saved, real),
    )
}
