//! What the interposer does with each intercepted call, with the kernel's semantics.
//!
//! Every function returns `(return value, errno to leave)`: for a call served here the errno
//! is the caller's own on success (the kernel leaves it alone) and the kernel's on failure;
//! for a call passed on it is whatever the real function left.

use crate::table::{self, Entry, VmSlot};
use crate::user;
use libc::c_int;
use sev::transport::{PlatformTransport, VmTransport};
use sev::uapi::{
    KVM_MEMORY_ENCRYPT_OP, KVM_MEMORY_ENCRYPT_REG_REGION, KVM_MEMORY_ENCRYPT_UNREG_REGION,
    SEV_ISSUE_CMD, kvm_enc_region, kvm_sev_cmd, sev_issue_cmd, sev_user_cmd as cmd_id,
    sev_user_data_status,
};
use std::sync::Arc;

/// `KVM_CREATE_VM` = `_IO(0xAE, 0x01)`.
const KVM_CREATE_VM: u32 = 0xAE01;
/// `KVM_CREATE_VCPU` = `_IO(0xAE, 0x41)`.
const KVM_CREATE_VCPU: u32 = 0xAE41;

/// The ioctls the VFS answers itself for any fd, before the driver sees them
/// (`do_vfs_ioctl`): the placeholder answers them as the device would.
const VFS_IOCTLS: [u32; 5] = [
    libc::FIOCLEX as u32,
    libc::FIONCLEX as u32,
    libc::FIONBIO as u32,
    libc::FIOASYNC as u32,
    0x5460, // FIOQSIZE
];

pub(crate) type Ret = (c_int, c_int);

/// Call the real function with the caller's errno in place; return what it left.
pub(crate) fn pass(saved: c_int, real: &mut dyn FnMut() -> c_int) -> Ret {
    crate::set_errno(saved);
    let r = real();
    (r, crate::errno())
}

fn done(saved: c_int, r: Result<c_int, c_int>) -> Ret {
    match r {
        Ok(v) => (v, saved),
        Err(e) => (-1, e),
    }
}

/// `open` / `openat` (and their 64-bit and fortified names). `path` is NULL-checked by the
/// caller.
pub(crate) fn open(
    path: &[u8],
    flags: c_int,
    mode: libc::c_uint,
    saved: c_int,
    real: &mut dyn FnMut() -> c_int,
) -> Ret {
    let Some(cfg) = table::config() else {
        return pass(saved, real);
    };
    if !cfg.is_device(path) {
        return pass(saved, real);
    }
    // The placeholder: /dev/null is a character device too, so every open flag (O_CLOEXEC,
    // O_NONBLOCK, O_EXCL|O_CREAT, O_DIRECTORY, O_PATH, ...) has the device's own effect.
    // SAFETY: a NUL-terminated path; nested calls from here pass straight through.
    let fd = unsafe { libc::open(c"/dev/null".as_ptr(), flags, mode) };
    if fd < 0 {
        return (-1, crate::errno());
    }
    if flags & libc::O_PATH != 0 {
        // No ioctl reaches the driver through an O_PATH fd (EBADF): nothing to serve.
        return (fd, saved);
    }
    if table::platform().is_none() {
        // SAFETY: our own fd, just opened.
        unsafe { libc::close(fd) };
        return (-1, libc::ENODEV);
    }
    let writable = flags & libc::O_ACCMODE != libc::O_RDONLY;
    table::insert(fd, Entry::Sev { writable });
    (fd, saved)
}

/// `ioctl`: the request compared on its low 32 bits, as the kernel does (a caller passing an
/// `int` request sign-extends it).
pub(crate) fn ioctl(
    fd: c_int,
    request: u64,
    arg: u64,
    saved: c_int,
    real: &mut dyn FnMut() -> c_int,
) -> Ret {
    if table::config().is_none() {
        return pass(saved, real);
    }
    let req = request as u32;
    match table::get(fd) {
        Some(Entry::Sev { writable }) => {
            if VFS_IOCTLS.contains(&req) {
                return pass(saved, real);
            }
            done(saved, sev_ioctl(writable, req, arg))
        }
        Some(Entry::Vm(slot)) => {
            let served = [
                KVM_MEMORY_ENCRYPT_OP as u32,
                KVM_MEMORY_ENCRYPT_REG_REGION as u32,
                KVM_MEMORY_ENCRYPT_UNREG_REGION as u32,
            ];
            if req == KVM_CREATE_VCPU {
                let (r, e) = pass(saved, real);
                if r >= 0 {
                    slot.add_vcpu(r);
                }
                return (r, e);
            }
            match slot.model() {
                Some(vm) if served.contains(&req) => done(saved, vm_ioctl(vm, req, arg)),
                _ => pass(saved, real),
            }
        }
        None => {
            let (r, e) = pass(saved, real);
            if req == KVM_CREATE_VM && r >= 0 && is_dev_kvm(fd) {
                table::insert(r, Entry::Vm(Arc::new(VmSlot::new(arg))));
            }
            (r, e)
        }
    }
}

/// Whether `fd` is KVM's system fd (`/dev/kvm`, character device 10:232 or wherever it is).
fn is_dev_kvm(fd: c_int) -> bool {
    let mut a = std::mem::MaybeUninit::<libc::stat>::zeroed();
    let mut b = std::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: fstat/stat write one `struct stat` each into our buffers.
    unsafe {
        if libc::fstat(fd, a.as_mut_ptr()) != 0
            || libc::stat(c"/dev/kvm".as_ptr(), b.as_mut_ptr()) != 0
        {
            return false;
        }
        let (a, b) = (a.assume_init(), b.assume_init());
        a.st_mode & libc::S_IFMT == libc::S_IFCHR && a.st_rdev == b.st_rdev
    }
}

/// `KVM_MEMORY_ENCRYPT_OP` / `_REG_REGION` / `_UNREG_REGION` on a VM fd (`kvm_arch_vm_ioctl`
/// and `sev_mem_enc_ioctl`).
fn vm_ioctl(vm: &sev::model::ModelVm, req: u32, arg: u64) -> Result<c_int, c_int> {
    if req == KVM_MEMORY_ENCRYPT_OP as u32 {
        if arg == 0 {
            // sev_mem_enc_ioctl: "if (!argp) return 0".
            return Ok(0);
        }
        let mut cmd: kvm_sev_cmd = user::read(arg)?;
        let caller_fd = cmd.sev_fd;
        let platform_fd = table::platform().map_or(-1, |p| p.sev_fd());
        cmd.sev_fd = table::model_sev_fd(caller_fd, platform_fd);
        // SAFETY: the hypervisor handed this struct to KVM, whose contract (uaddrs valid for
        // the command's reads and writes) is the transport's; the model checks mappings and
        // answers EFAULT / ENOMEM where the kernel does.
        let r = unsafe { vm.encrypt_op(&mut cmd) };
        cmd.sev_fd = caller_fd;
        // KVM copies the whole struct back (the `error` field), failure or not.
        user::write(arg, &cmd)?;
        return r.map(|()| 0);
    }
    let region: kvm_enc_region = user::read(arg)?;
    if req == KVM_MEMORY_ENCRYPT_REG_REGION as u32 {
        // SAFETY: the hypervisor registers its own guest memory, mapped for the VM's life, as
        // it would with KVM.
        unsafe { vm.register_region(&region) }.map(|()| 0)
    } else {
        vm.unregister_region(&region).map(|()| 0)
    }
}

/// `sev_ioctl` of the PSP driver on a SEV device placeholder.
fn sev_ioctl(writable: bool, req: u32, arg: u64) -> Result<c_int, c_int> {
    if req != SEV_ISSUE_CMD as u32 {
        return Err(libc::EINVAL);
    }
    let mut cmd: sev_issue_cmd = user::read(arg)?;
    if cmd.cmd > cmd_id::GET_ID2 {
        // Past SEV_MAX of a kernel without SEV-SNP: refused before any write-back.
        return Err(libc::EINVAL);
    }
    let platform = table::platform().ok_or(libc::ENODEV)?;
    let needs_write = match cmd.cmd {
        cmd_id::FACTORY_RESET
        | cmd_id::PEK_GEN
        | cmd_id::PDH_GEN
        | cmd_id::PEK_CSR
        | cmd_id::PEK_CERT_IMPORT => true,
        // Only when the platform must be INITed first.
        cmd_id::PDH_CERT_EXPORT => platform_uninit(platform),
        _ => false,
    };
    let r = if needs_write && !writable {
        Err(libc::EPERM)
    } else {
        // SAFETY: as for KVM_MEMORY_ENCRYPT_OP: the caller's struct, the kernel's contract.
        unsafe { platform.sev_issue_cmd(&mut cmd) }
    };
    // The driver copies the struct back (the `error` field) for every known command.
    user::write(arg, &cmd)?;
    r.map(|()| 0)
}

/// Whether the platform is in state UNINIT (PLATFORM_STATUS, which needs no INIT).
fn platform_uninit(platform: &sev::model::ModelPlatform) -> bool {
    let mut st = sev_user_data_status::default();
    let mut cmd = sev_issue_cmd {
        cmd: cmd_id::PLATFORM_STATUS,
        data: &mut st as *mut sev_user_data_status as u64,
        error: 0,
    };
    // SAFETY: `data` points to our own status struct, which PLATFORM_STATUS fills.
    let ok = unsafe { platform.sev_issue_cmd(&mut cmd) }.is_ok();
    ok && st.state == 0
}

/// `close`: the fd is forgotten first (so a concurrent open that gets the same number is not
/// mistaken for it), put back if the close fails.
pub(crate) fn close(fd: c_int, saved: c_int, real: &mut dyn FnMut() -> c_int) -> Ret {
    let removed = table::remove(fd);
    let (r, e) = pass(saved, real);
    if r < 0 && e == libc::EINTR {
        // Linux closes the fd even when close() reports EINTR.
    } else if r < 0 {
        if let Some(entry) = removed {
            table::insert(fd, entry);
        }
        return (r, e);
    }
    drop(removed);
    (r, e)
}

/// `close_range` (without `CLOSE_RANGE_CLOEXEC`, which closes nothing now).
pub(crate) fn close_range(
    first: libc::c_uint,
    last: libc::c_uint,
    flags: c_int,
    saved: c_int,
    real: &mut dyn FnMut() -> c_int,
) -> Ret {
    const CLOSE_RANGE_CLOEXEC: c_int = 4;
    if flags & CLOSE_RANGE_CLOEXEC != 0 || first > last {
        return pass(saved, real);
    }
    let lo = first.min(c_int::MAX as u32) as c_int;
    let hi = last.min(c_int::MAX as u32) as c_int;
    let removed = table::remove_range(lo, hi);
    let (r, e) = pass(saved, real);
    if r < 0 {
        for (fd, entry) in removed {
            table::insert(fd, entry);
        }
    }
    (r, e)
}

/// `dup` / `dup2` / `dup3`: the new fd names the same device or VM; `new` (if given) is
/// closed by the call.
pub(crate) fn dup(
    old: c_int,
    new: Option<c_int>,
    saved: c_int,
    real: &mut dyn FnMut() -> c_int,
) -> Ret {
    let displaced = match new {
        Some(n) if n != old => table::remove(n),
        _ => None,
    };
    let (r, e) = pass(saved, real);
    if r < 0 {
        if let (Some(n), Some(entry)) = (new, displaced) {
            table::insert(n, entry);
        }
        return (r, e);
    }
    if r != old {
        if let Some(entry) = table::get(old) {
            table::insert(r, entry);
        }
    }
    drop(displaced);
    (r, e)
}
