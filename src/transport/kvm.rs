//! The KVM transport: real `ioctl()`s on the `/dev/sev` fd and on a KVM VM fd.
//!
//! * [`KvmPlatform`] issues `SEV_ISSUE_CMD` on `/dev/sev`. It either owns the fd
//!   ([`KvmPlatform::open`], closed on drop), borrows the caller's ([`KvmPlatform::from_fd`],
//!   never closed), or has none ([`KvmPlatform::without_sev`]: platform commands fail with
//!   `ENODEV`, guest `INIT` still works because KVM does not need `/dev/sev` for it).
//! * [`KvmVm`] issues `KVM_MEMORY_ENCRYPT_OP` and the region ioctls on a VM fd, either one it
//!   created (`KVM_CREATE_VM` on `/dev/kvm`, closed on drop) or the caller's (never closed).
//!
//! Nothing here interprets results: failures come back as the errno of the ioctl, and the
//! firmware status stays where the kernel wrote it (`cmd.error`).

use super::{Backend, Errno, PlatformTransport, VmTransport};
use crate::error::{Error, Result};
use crate::status::Command;
use crate::uapi::{
    KVM_MEMORY_ENCRYPT_OP, KVM_MEMORY_ENCRYPT_REG_REGION, KVM_MEMORY_ENCRYPT_UNREG_REGION,
    SEV_ISSUE_CMD, kvm_enc_region, kvm_sev_cmd, sev_issue_cmd,
};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;

/// Path of the PSP driver's device.
pub const SEV_DEVICE: &str = "/dev/sev";
/// Path of the KVM device.
pub const KVM_DEVICE: &str = "/dev/kvm";

/// `KVM_X86_DEFAULT_VM`: the VM type that accepts the legacy `KVM_SEV_INIT`/`ES_INIT`.
const KVM_X86_DEFAULT_VM: u64 = 0;

fn last_errno() -> Errno {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// `ioctl(fd, request, arg)` returning the errno on failure.
///
/// # Safety
/// `arg` must be what `request` expects on that fd (a pointer to a live struct of the right
/// type and size, or NULL where the ioctl accepts it).
unsafe fn ioctl_ptr<T>(fd: RawFd, request: u64, arg: *mut T) -> Result<(), Errno> {
    // SAFETY: forwarded contract: `arg` is valid for `request` on `fd`. An fd that is not
    // open or of another kind makes the kernel fail the call (EBADF/ENOTTY), nothing else.
    let r = unsafe { libc::ioctl(fd, request as _, arg) };
    if r < 0 { Err(last_errno()) } else { Ok(()) }
}

/// Whether `fd` is an open file descriptor of this process (`fcntl(F_GETFD)`).
pub fn fd_is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only reads the descriptor flags; any integer is acceptable.
    fd >= 0 && unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1
}

/// `/dev/sev` through the Linux PSP driver.
///
/// Thread safety: `Send + Sync`; the driver serialises firmware commands itself.
#[derive(Debug)]
pub struct KvmPlatform {
    /// The fd used for `SEV_ISSUE_CMD` and put into `kvm_sev_cmd.sev_fd`; -1 = none.
    sev_fd: RawFd,
    /// Set when libsev opened the device (closed on drop); `None` for a borrowed fd.
    _owned: Option<OwnedFd>,
}

impl KvmPlatform {
    /// Open `/dev/sev` read-write and close-on-exec; the fd is owned and closed on drop.
    /// Errors: `LIBSEV_STATUS_NO_DEVICE` (absent), `LIBSEV_STATUS_PERMISSION_DENIED`, ... with
    /// the command `LIBSEV_CMD_OPEN`.
    pub fn open() -> Result<Self> {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(SEV_DEVICE) // std opens with O_CLOEXEC
            .map_err(|e| {
                Error::from_io(
                    Command::LIBSEV_CMD_OPEN,
                    &format!("opening {SEV_DEVICE}"),
                    &e,
                )
            })?;
        let owned = OwnedFd::from(f);
        Ok(KvmPlatform {
            sev_fd: owned.as_raw_fd(),
            _owned: Some(owned),
        })
    }

    /// Use the caller's `/dev/sev` fd. libsev never closes it; the caller keeps it open, at
    /// the same number, for as long as this platform and every VM launched through it live
    /// (KVM re-resolves the stored fd number on later guest commands, `sev-spec` §1.5).
    pub fn from_fd(fd: RawFd) -> Self {
        KvmPlatform {
            sev_fd: fd,
            _owned: None,
        }
    }

    /// A KVM platform without `/dev/sev` (hosts where the PSP device is absent or not
    /// accessible): platform commands fail with `ENODEV`; guest `INIT`/`ES_INIT`/`INIT2` still
    /// reach KVM (they do not use `/dev/sev`).
    pub fn without_sev() -> Self {
        KvmPlatform {
            sev_fd: -1,
            _owned: None,
        }
    }
}

impl PlatformTransport for KvmPlatform {
    unsafe fn sev_issue_cmd(&self, cmd: &mut sev_issue_cmd) -> Result<(), Errno> {
        if self.sev_fd < 0 {
            return Err(libc::ENODEV);
        }
        // SAFETY: SEV_ISSUE_CMD takes a pointer to a 16-byte `struct sev_issue_cmd`, which
        // `cmd` is; the caller guarantees `cmd.data` and the addresses inside the parameter
        // struct (trait contract).
        unsafe { ioctl_ptr(self.sev_fd, SEV_ISSUE_CMD, cmd as *mut sev_issue_cmd) }
    }

    fn sev_fd(&self) -> RawFd {
        self.sev_fd
    }

    fn backend(&self) -> Backend {
        Backend::Kvm
    }

    fn create_vm(self: Arc<Self>) -> Result<Box<dyn VmTransport>, Errno> {
        Ok(Box::new(KvmVm::create(Some(self))?))
    }

    fn attach_vm(self: Arc<Self>, vm_fd: RawFd) -> Result<Box<dyn VmTransport>, Errno> {
        Ok(Box::new(KvmVm::attach(Some(self), vm_fd)?))
    }

    fn create_vm_typed(self: Arc<Self>, vm_type: u64) -> Result<Box<dyn VmTransport>, Errno> {
        Ok(Box::new(KvmVm::create_of_type(Some(self), vm_type)?))
    }
}

/// One KVM VM fd.
///
/// Thread safety: `Send + Sync`; KVM serialises `KVM_MEMORY_ENCRYPT_OP` under `kvm->lock`.
#[derive(Debug)]
pub struct KvmVm {
    fd: RawFd,
    /// The VM when libsev created it (its fd is closed on drop); `None` when borrowed.
    _owned: Option<kvm_ioctls::VmFd>,
    /// Keeps the `/dev/sev` fd open (at the same number) for the VM's life.
    _platform: Option<Arc<KvmPlatform>>,
}

impl KvmVm {
    /// `KVM_CREATE_VM` (type `KVM_X86_DEFAULT_VM`, the type legacy `KVM_SEV_INIT` accepts) on
    /// `/dev/kvm`; the VM fd is owned and closed on drop.
    pub fn create(platform: Option<Arc<KvmPlatform>>) -> Result<Self, Errno> {
        Self::create_of_type(platform, KVM_X86_DEFAULT_VM)
    }

    /// `KVM_CREATE_VM` with a VM type (`KVM_X86_SNP_VM` = 4 for SNP); a host whose KVM lacks
    /// the type refuses with `EINVAL` (or `ENOTTY`).
    pub fn create_of_type(platform: Option<Arc<KvmPlatform>>, vm_type: u64) -> Result<Self, Errno> {
        let kvm = kvm_ioctls::Kvm::new().map_err(|e| e.errno())?;
        let vm = kvm.create_vm_with_type(vm_type).map_err(|e| e.errno())?;
        Ok(KvmVm {
            fd: vm.as_raw_fd(),
            _owned: Some(vm),
            _platform: platform,
        })
    }

    /// Use the caller's VM fd; it is never closed by libsev. `EBADF` if it is not open.
    pub fn attach(platform: Option<Arc<KvmPlatform>>, vm_fd: RawFd) -> Result<Self, Errno> {
        if !fd_is_open(vm_fd) {
            return Err(libc::EBADF);
        }
        Ok(KvmVm {
            fd: vm_fd,
            _owned: None,
            _platform: platform,
        })
    }

    /// Whether KVM has SEV enabled for this VM: `Ok` if so, `ENOTTY` if not (see
    /// [`probe_vm_fd`]).
    pub fn probe(&self) -> Result<(), Errno> {
        probe_vm_fd(self.fd)
    }
}

/// A sub-command id no kernel implements (`KVM_SEV_NR_MAX` is far below it).
const PROBE_CMD_ID: u32 = 0xFFFF_FFFF;

/// Whether KVM has SEV enabled, asked on a VM fd: `Ok` if so, `ENOTTY` if not.
///
/// The kernel documents `KVM_MEMORY_ENCRYPT_OP(NULL)` as the probe (0 with SEV, `ENOTTY`
/// without; older kernels answered `EFAULT`). libsev asks the equivalent question with a real
/// `kvm_sev_cmd` whose id no kernel knows: without SEV the answer is `ENOTTY` before the
/// command is read; with SEV the kernel reads it and refuses the unknown id with `EINVAL`,
/// changing nothing. This works on old kernels too, and keeps memory checkers such as valgrind
/// quiet (they flag the NULL argument of an ioctl declared to take 8 bytes).
pub fn probe_vm_fd(vm_fd: RawFd) -> Result<(), Errno> {
    let mut cmd = kvm_sev_cmd {
        id: PROBE_CMD_ID,
        sev_fd: u32::MAX,
        ..Default::default()
    };
    // SAFETY: a live kvm_sev_cmd with data = 0; an unknown id makes KVM read only the struct.
    match unsafe { ioctl_ptr(vm_fd, KVM_MEMORY_ENCRYPT_OP, &mut cmd) } {
        Ok(()) | Err(libc::EINVAL) => Ok(()),
        Err(e) => Err(e),
    }
}

impl VmTransport for KvmVm {
    unsafe fn encrypt_op(&self, cmd: &mut kvm_sev_cmd) -> Result<(), Errno> {
        // SAFETY: KVM_MEMORY_ENCRYPT_OP takes a pointer to a `struct kvm_sev_cmd`; the caller
        // guarantees `cmd.data` and every uaddr inside the parameter struct (trait contract).
        // The kernel writes `cmd` back (including `error`) even when the ioctl fails.
        unsafe { ioctl_ptr(self.fd, KVM_MEMORY_ENCRYPT_OP, cmd as *mut kvm_sev_cmd) }
    }

    unsafe fn register_region(&self, region: &kvm_enc_region) -> Result<(), Errno> {
        let mut r = *region;
        // SAFETY: the ioctl reads a 16-byte `struct kvm_enc_region` from a live local; the
        // caller guarantees the range is mapped memory of this process (trait contract).
        unsafe { ioctl_ptr(self.fd, KVM_MEMORY_ENCRYPT_REG_REGION, &mut r) }
    }

    fn unregister_region(&self, region: &kvm_enc_region) -> Result<(), Errno> {
        let mut r = *region;
        // SAFETY: the ioctl reads a 16-byte `struct kvm_enc_region` from a live local and only
        // unpins a range registered earlier (the kernel refuses any other with EINVAL).
        unsafe { ioctl_ptr(self.fd, KVM_MEMORY_ENCRYPT_UNREG_REGION, &mut r) }
    }

    fn vm_fd(&self) -> RawFd {
        self.fd
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_sev_refuses_platform_commands_with_enodev() {
        let p = KvmPlatform::without_sev();
        assert_eq!(p.sev_fd(), -1);
        let mut cmd = sev_issue_cmd::default();
        // SAFETY: data = 0 and the call is refused before any ioctl.
        assert_eq!(unsafe { p.sev_issue_cmd(&mut cmd) }, Err(libc::ENODEV));
    }

    #[test]
    fn borrowed_sev_fd_is_not_closed() {
        let f = std::fs::File::open("/dev/null").unwrap();
        let fd = f.as_raw_fd();
        drop(KvmPlatform::from_fd(fd));
        assert!(fd_is_open(fd));
    }

    #[test]
    fn attach_rejects_a_closed_fd() {
        assert_eq!(KvmVm::attach(None, -1).unwrap_err(), libc::EBADF);
        // Far above any RLIMIT_NOFILE, so never open.
        assert_eq!(KvmVm::attach(None, i32::MAX).unwrap_err(), libc::EBADF);
    }

    #[test]
    fn attached_fd_outlives_the_vm_and_non_kvm_fds_get_enotty() {
        let f = std::fs::File::open("/dev/null").unwrap();
        let fd = f.as_raw_fd();
        let vm = KvmVm::attach(None, fd).unwrap();
        // /dev/null does not know KVM_MEMORY_ENCRYPT_OP.
        assert_eq!(vm.probe(), Err(libc::ENOTTY));
        drop(vm);
        assert!(fd_is_open(fd));
    }
}
