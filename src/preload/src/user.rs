//! `copy_from_user` / `copy_to_user` for the ioctl's own argument struct (the one the kernel
//! copies before anything else): `EFAULT` when the memory is not there, as the kernel answers,
//! never a crash. `process_vm_readv` / `process_vm_writev` on this very process fail with
//! `EFAULT` exactly where the kernel's copies would (unmapped memory; for writes also
//! read-only memory). Where those calls are not allowed (a seccomp sandbox), the range is
//! checked with `msync` and copied directly.

use libc::c_void;

/// The ioctl argument structs are plain integers (no padding, no invalid bit patterns).
pub(crate) trait Plain: Copy {}
impl Plain for sev::uapi::kvm_sev_cmd {}
impl Plain for sev::uapi::kvm_enc_region {}
impl Plain for sev::uapi::sev_issue_cmd {}
impl Plain for sev::uapi::sev_user_data_status {}

fn mapped(addr: u64, len: usize) -> bool {
    let start = addr & !4095;
    let Some(end) = addr.checked_add(len as u64) else {
        return false;
    };
    // SAFETY: msync(MS_ASYNC) only looks the range up in this process's mappings.
    unsafe {
        libc::msync(
            start as usize as *mut c_void,
            (end - start) as usize,
            libc::MS_ASYNC,
        ) == 0
    }
}

/// Read a `T` from user address `addr`.
pub(crate) fn read<T: Plain>(addr: u64) -> Result<T, i32> {
    let mut v = std::mem::MaybeUninit::<T>::zeroed();
    let n = std::mem::size_of::<T>();
    let local = libc::iovec {
        iov_base: v.as_mut_ptr().cast(),
        iov_len: n,
    };
    let remote = libc::iovec {
        iov_base: addr as usize as *mut c_void,
        iov_len: n,
    };
    // SAFETY: the local iovec is our own `n` bytes; the kernel checks the remote one.
    let r = unsafe { libc::process_vm_readv(libc::getpid(), &local, 1, &remote, 1, 0) };
    if r != n as isize {
        if r >= 0 || crate::errno() == libc::EFAULT || !mapped(addr, n) {
            return Err(libc::EFAULT);
        }
        // SAFETY: the range is mapped (checked just above) and `v` has room for `n` bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(addr as usize as *const u8, v.as_mut_ptr().cast(), n)
        };
    }
    // SAFETY: zero-initialised, then fully written; `T` is plain integers.
    Ok(unsafe { v.assume_init() })
}

/// Write `v` to user address `addr`.
pub(crate) fn write<T: Plain>(addr: u64, v: &T) -> Result<(), i32> {
    let n = std::mem::size_of::<T>();
    let local = libc::iovec {
        iov_base: (v as *const T).cast_mut().cast(),
        iov_len: n,
    };
    let remote = libc::iovec {
        iov_base: addr as usize as *mut c_void,
        iov_len: n,
    };
    // SAFETY: the local iovec is `v`'s `n` bytes (only read); the kernel checks the remote one.
    let r = unsafe { libc::process_vm_writev(libc::getpid(), &local, 1, &remote, 1, 0) };
    if r != n as isize {
        if r >= 0 || crate::errno() == libc::EFAULT || !mapped(addr, n) {
            return Err(libc::EFAULT);
        }
        // SAFETY: the range is mapped (checked just above); `v` is `n` readable bytes.
        unsafe {
            std::ptr::copy_nonoverlapping((v as *const T).cast::<u8>(), addr as usize as *mut u8, n)
        };
    }
    Ok(())
}
