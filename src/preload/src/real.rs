//! The real libc functions behind the interposed ones, found with `dlsym(RTLD_NEXT, ...)` on
//! first use and cached. A symbol that cannot be found makes the call fail with `ENOSYS`
//! (nothing is ever served or forwarded before the real function is known).

use libc::{c_char, c_int, c_uint, c_ulong, c_void};
use std::ffi::CStr;
use std::sync::atomic::{AtomicUsize, Ordering};

/// One real libc function: its name and, once resolved, its address.
pub(crate) struct Sym {
    name: &'static CStr,
    addr: AtomicUsize,
}

impl Sym {
    const fn new(name: &'static CStr) -> Sym {
        Sym {
            name,
            addr: AtomicUsize::new(0),
        }
    }

    /// The address of the next definition after this library, or `None`.
    fn get(&self) -> Option<usize> {
        let a = self.addr.load(Ordering::Acquire);
        if a != 0 {
            return Some(a);
        }
        // SAFETY: dlsym with RTLD_NEXT and a NUL-terminated name only looks the symbol up.
        let p = unsafe { libc::dlsym(libc::RTLD_NEXT, self.name.as_ptr()) };
        if p.is_null() {
            return None;
        }
        self.addr.store(p as usize, Ordering::Release);
        Some(p as usize)
    }
}

fn enosys() -> c_int {
    crate::set_errno(libc::ENOSYS);
    -1
}

/// Defines a static [`Sym`] and a function calling it with the given C signature.
macro_rules! real {
    ($sym:ident, $call:ident, $name:literal, fn($($a:ident: $t:ty),*)) => {
        pub(crate) static $sym: Sym = Sym::new($name);

        /// Calls the real function of this name (`ENOSYS` if there is none).
        ///
        /// # Safety
        /// The arguments must be valid for the real libc function.
        pub(crate) unsafe fn $call($($a: $t),*) -> c_int {
            let Some(addr) = $sym.get() else {
                return enosys();
            };
            // SAFETY: `addr` is libc's definition of this very function, whose C signature is
            // the one spelled out here.
            let f: unsafe extern "C" fn($($t),*) -> c_int = unsafe { std::mem::transmute(addr) };
            // SAFETY: the caller's arguments are passed on unchanged.
            unsafe { f($($a),*) }
        }
    };
}

real!(
    OPEN,
    open,
    c"open",
    fn(path: *const c_char, flags: c_int, mode: c_uint)
);
real!(
    OPEN64,
    open64,
    c"open64",
    fn(path: *const c_char, flags: c_int, mode: c_uint)
);
real!(
    OPEN_2,
    open_2,
    c"__open_2",
    fn(path: *const c_char, flags: c_int)
);
real!(
    OPEN64_2,
    open64_2,
    c"__open64_2",
    fn(path: *const c_char, flags: c_int)
);
real!(
    OPENAT,
    openat,
    c"openat",
    fn(dirfd: c_int, path: *const c_char, flags: c_int, mode: c_uint)
);
real!(
    OPENAT64,
    openat64,
    c"openat64",
    fn(dirfd: c_int, path: *const c_char, flags: c_int, mode: c_uint)
);
real!(
    OPENAT_2,
    openat_2,
    c"__openat_2",
    fn(dirfd: c_int, path: *const c_char, flags: c_int)
);
real!(
    OPENAT64_2,
    openat64_2,
    c"__openat64_2",
    fn(dirfd: c_int, path: *const c_char, flags: c_int)
);
real!(
    IOCTL,
    ioctl,
    c"ioctl",
    fn(fd: c_int, request: c_ulong, arg: *mut c_void)
);
real!(CLOSE, close, c"close", fn(fd: c_int));
real!(
    CLOSE_RANGE,
    close_range,
    c"close_range",
    fn(first: c_uint, last: c_uint, flags: c_int)
);
real!(DUP, dup, c"dup", fn(fd: c_int));
real!(DUP2, dup2, c"dup2", fn(old: c_int, new: c_int));
real!(
    DUP3,
    dup3,
    c"dup3",
    fn(old: c_int, new: c_int, flags: c_int)
);
