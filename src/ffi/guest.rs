//! C ABI: the guest handle (`libsev_guest`) and the commands about the VM itself (init,
//! status, memory regions). The SEV guest commands sit by family beside it: `launch`,
//! `migrate`, `debug`.
//!
//! Flow (launch): `libsev_guest_new` or `_attach` → `_init` → `_launch_start` →
//! `_register_region` + `_launch_update_data` over guest memory → `_launch_measure` →
//! (optional `_launch_secret`) → `_launch_finish` → `libsev_guest_free`.
//!
//! libsev checks only plain caller errors (NULL pointers, lengths beyond the kernel's 32-bit
//! fields). Alignment, firmware-defined sizes and guest states are checked by the kernel and the
//! firmware (or the model), which report `LIBSEV_STATUS_FW_*` / OS statuses with both error
//! channels in `libsev_error` — exactly as on real hardware.

use super::boundary::{self, CHandle, Handle, write_out};
use super::libsev_error;
use super::platform::{libsev_platform, new_on_platform};
use crate::api::Guest;
use crate::error::Result;
use crate::status::libsev_status;
use std::ffi::{c_char, c_int};
use std::sync::Mutex;

/// One SEV guest: a KVM VM (created by libsev, or the caller's, which libsev never closes) or
/// a model VM, on a `libsev_platform`.
///
/// Thread safety: use a guest handle from one thread at a time (calls on one handle are
/// serialised internally, so a mistake costs waiting, not memory safety); distinct guests are
/// independent and may be used from different threads. A guest keeps its platform alive.
#[allow(non_camel_case_types)]
pub struct libsev_guest {
    h: Handle<Mutex<Guest>>,
}

impl CHandle for libsev_guest {
    type Value = Mutex<Guest>;
    const NAME: &'static str = "guest";
    fn wrap(h: Handle<Mutex<Guest>>) -> Self {
        libsev_guest { h }
    }
    fn handle(&self) -> &Handle<Mutex<Guest>> {
        &self.h
    }
}

/// `GUEST_STATUS` as `libsev_guest_status` returns it.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
#[allow(non_camel_case_types)]
pub struct libsev_guest_status_info {
    /// The firmware handle.
    pub handle: u32,
    /// The guest policy.
    pub policy: u32,
    /// Firmware guest state: 0 UNINIT, 1 LUPDATE, 2 LSECRET, 3 RUNNING, 4 SUPDATE,
    /// 5 RUPDATE, 6 SENT.
    pub state: u32,
}

/// Run a command on the guest under the C conventions (the handle's lock held during `f`
/// only, so the log callback runs after it is released).
///
/// # Safety
/// `g` NULL or a live guest handle; `err` NULL or writable.
pub(crate) unsafe fn with_guest(
    g: *const libsev_guest,
    err: *mut libsev_error,
    f: impl FnOnce(&mut Guest) -> Result<()>,
) -> libsev_status {
    // SAFETY: forwarded contract.
    unsafe { boundary::on(g, err, |m| f(&mut *boundary::lock(m, "guest")?)) }
}

/// A value read from the guest (`default` for NULL or an unusable handle).
///
/// # Safety
/// `g` NULL or a live guest handle.
unsafe fn read_guest<R>(g: *const libsev_guest, default: R, f: impl FnOnce(&Guest) -> R) -> R {
    // SAFETY: forwarded contract.
    unsafe { boundary::query(g, default, |m| Ok(f(&*boundary::lock(m, "guest")?))) }
}

/// Create a guest on a new VM: KVM platforms open `/dev/kvm` and create a VM of the default
/// type (the VM fd belongs to the guest and is closed by `libsev_guest_free`); model platforms
/// create a model VM (`libsev_guest_vm_fd` gives -1). `*out` is set only on success.
///
/// Statuses: `LIBSEV_STATUS_NO_DEVICE` (no `/dev/kvm`), `LIBSEV_STATUS_PERMISSION_DENIED`,
/// `LIBSEV_STATUS_OS_ERROR`, `LIBSEV_STATUS_NULL_ARGUMENT`.
///
/// # Safety
/// `platform` NULL or live; `out` writable; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_guest_new(
    platform: *const libsev_platform,
    out: *mut *mut libsev_guest,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: the pointers are as the function's `# Safety` section documents; the boundary
    // checks NULLs and lengths before any access (the same holds in every guest export).
    unsafe { new_on_platform(platform, out, err, |p| Ok(Mutex::new(Guest::new(p)?))) }
}

/// Create a guest on the caller's VM fd (e.g. from `KVM_CREATE_VM`). libsev never closes it;
/// keep it open until `libsev_guest_free`. A model platform accepts any open fd and keeps its
/// own guest state. `*out` is set only on success.
///
/// Statuses (argument checks, `LIBSEV_CMD_NONE`, on every platform):
/// `LIBSEV_STATUS_BAD_FD` (`vm_fd` is not open; `os_errno` EBADF),
/// `LIBSEV_STATUS_INVALID_ARGUMENT` (negative), `LIBSEV_STATUS_NULL_ARGUMENT`.
///
/// # Safety
/// `platform` NULL or live; `out` writable; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_guest_attach(
    platform: *const libsev_platform,
    vm_fd: c_int,
    out: *mut *mut libsev_guest,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: see libsev_guest_new.
    unsafe {
        new_on_platform(platform, out, err, |p| {
            Ok(Mutex::new(Guest::attach(p, vm_fd)?))
        })
    }
}

/// Free a guest (NULL is a no-op). A VM libsev created is closed (KVM then decommissions the
/// guest); the caller's VM fd is left open.
///
/// # Safety
/// `guest` NULL or a handle from `libsev_guest_new`/`_attach`, not yet freed, and not in use
/// by another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_guest_free(guest: *mut libsev_guest) {
    // SAFETY: see libsev_guest_new.
    unsafe { boundary::free(guest) }
}

/// The message of the last failure on this guest ("" if none or if `guest` is NULL). The
/// text belongs to the calling thread: it stays valid until this thread calls
/// `libsev_guest_last_error` on the same handle again, or the handle is freed; calls on other
/// threads never change or free it. See also `libsev_guest_last_error_copy`.
///
/// # Safety
/// `guest` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_guest_last_error(guest: *const libsev_guest) -> *const c_char {
    // SAFETY: see libsev_guest_new.
    unsafe { boundary::last_error(guest) }
}

/// Copy the message of the guest's last failure, with its terminating NUL, into `buf` under
/// the buffer rule (as `libsev_platform_last_error_copy`). Never changes the last error.
///
/// # Safety
/// `guest` NULL or live; `buf` NULL or writable for `len` bytes; `out_len` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_guest_last_error_copy(
    guest: *const libsev_guest,
    buf: *mut c_char,
    len: usize,
    out_len: *mut usize,
) -> libsev_status {
    // SAFETY: see libsev_guest_new.
    unsafe { boundary::last_error_copy(guest, buf, len, out_len) }
}

/// The guest's VM fd (-1 for a model VM without one, or for NULL).
///
/// # Safety
/// `guest` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_guest_vm_fd(guest: *const libsev_guest) -> c_int {
    // SAFETY: see libsev_guest_new.
    unsafe { read_guest(guest, -1, Guest::vm_fd) }
}

/// The firmware handle from LAUNCH_START / RECEIVE_START (0 before, or for NULL).
///
/// # Safety
/// `guest` NULL or live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_guest_handle(guest: *const libsev_guest) -> u32 {
    // SAFETY: see libsev_guest_new.
    unsafe { read_guest(guest, 0, Guest::handle) }
}

/// `KVM_SEV_INIT`: make the VM an SEV guest. On a host whose KVM has no SEV this gives
/// `LIBSEV_STATUS_NO_SEV_SUPPORT` (`os_errno` ENOTTY, `fw_error` 0). Calling it twice, or after
/// vCPUs exist, is refused by KVM (`LIBSEV_STATUS_KERNEL_REJECTED`).
///
/// # Safety
/// `guest` NULL or live; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_guest_init(
    guest: *mut libsev_guest,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: see libsev_guest_new.
    unsafe { with_guest(guest, err, Guest::init) }
}

/// `KVM_SEV_ES_INIT`: make the VM an SEV-ES guest (statuses as `libsev_guest_init`).
///
/// # Safety
/// `guest` NULL or live; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_guest_es_init(
    guest: *mut libsev_guest,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: see libsev_guest_new.
    unsafe { with_guest(guest, err, Guest::es_init) }
}

/// `KVM_SEV_INIT2` (VMs created with an SEV VM type): `vmsa_features` must be 0 and
/// `ghcb_version` 0 for plain SEV (KVM checks: `LIBSEV_STATUS_KERNEL_REJECTED`).
///
/// # Safety
/// `guest` NULL or live; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_guest_init2(
    guest: *mut libsev_guest,
    vmsa_features: u64,
    ghcb_version: u16,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: see libsev_guest_new.
    unsafe { with_guest(guest, err, |g| g.init2(vmsa_features, ghcb_version)) }
}

/// `GUEST_STATUS` into `*out` (written only on success).
///
/// # Safety
/// `guest` NULL or live; `out` NULL or writable; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_guest_status(
    guest: *mut libsev_guest,
    out: *mut libsev_guest_status_info,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: see libsev_guest_new.
    unsafe {
        with_guest(guest, err, |g| {
            boundary::need_out(out, "out")?;
            let s = g.status()?;
            let info = libsev_guest_status_info {
                handle: s.handle,
                policy: s.policy,
                state: s.state,
            };
            write_out(out, info, "out")
        })
    }
}

/// `KVM_MEMORY_ENCRYPT_REG_REGION`: pin `size` bytes of guest memory at `addr` for the VM's
/// life (KVM requires it for SEV guest RAM; pinning counts against `RLIMIT_MEMLOCK`:
/// `LIBSEV_STATUS_OUT_OF_MEMORY`). KVM pins it writable: read-only, `PROT_NONE` or unmapped
/// memory is `LIBSEV_STATUS_OUT_OF_MEMORY` with `os_errno` `ENOMEM`, on the model as on KVM.
/// SEND/RECEIVE_UPDATE_DATA pin their guest page again for every packet, so a registered page
/// unmapped or protected since fails the same way (never a crash).
///
/// # Safety
/// `addr..+size` mapped memory of this process that stays mapped until unregistered or the
/// guest is freed; `guest` NULL or live; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_guest_register_region(
    guest: *mut libsev_guest,
    addr: *mut u8,
    size: usize,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: see libsev_guest_new; the range is the caller's (NULL is refused inside).
    unsafe { with_guest(guest, err, |g| g.register_region(addr, size)) }
}

/// `KVM_MEMORY_ENCRYPT_UNREG_REGION`: exactly the `(addr, size)` of an earlier registration
/// (anything else: `LIBSEV_STATUS_KERNEL_REJECTED`).
///
/// # Safety
/// `guest` NULL or live; `err` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libsev_guest_unregister_region(
    guest: *mut libsev_guest,
    addr: *const u8,
    size: usize,
    err: *mut libsev_error,
) -> libsev_status {
    // SAFETY: see libsev_guest_new.
    unsafe { with_guest(guest, err, |g| g.unregister_region(addr, size)) }
}
