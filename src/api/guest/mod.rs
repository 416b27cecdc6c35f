//! [`Guest`]: one SEV VM and its `KVM_MEMORY_ENCRYPT_OP` commands, marshalled into the exact
//! `kvm_sev_*` structs of the kernel ABI (`sev-spec` §1.4) and issued through the seam.
//!
//! This file holds the guest object and the commands about the VM itself (init, status,
//! memory regions); the SEV commands sit by family in `launch` (LAUNCH_*, attestation),
//! `migrate` (SEND_*, RECEIVE_*) and `debug` (DBG_*). SEV-ES and SEV-SNP code goes beside
//! them (`api/es.rs`, `api/snp/`).
//!
//! libsev checks only what is plainly a caller error (NULL pointers, lengths that do not fit
//! the kernel's 32-bit fields). Alignment, lengths the firmware defines and every state check
//! are left to the kernel and the firmware (or the model), so the same code path runs on real
//! hardware and in the model.

use super::marshal::{PacketIn, finish, finish_hinted, non_null};
use super::platform::{Platform, ptr};
use crate::error::{Error, Result};
use crate::status::{Command, Status};
use crate::transport::{Backend, Errno, VmTransport};
use crate::uapi::{kvm_cmd, kvm_enc_region, kvm_sev_cmd, kvm_sev_guest_status, kvm_sev_init};
use std::os::fd::RawFd;

mod debug;
mod launch;
mod migrate;

/// Where an output fetched into a caller's buffer went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetched {
    /// The command ran and wrote this many bytes at the start of the buffer.
    Written(usize),
    /// The buffer cannot hold the output, which needs this many bytes: only the firmware's
    /// length query ran (no state changed) and the buffer was not written.
    TooSmall(usize),
}

/// `GUEST_STATUS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestStatus {
    pub handle: u32,
    pub policy: u32,
    /// Firmware guest state: 0 UNINIT, 1 LUPDATE, 2 LSECRET, 3 RUNNING, 4 SUPDATE, 5 RUPDATE,
    /// 6 SENT.
    pub state: u32,
}

const NOT_INITIALISED_HINT: &str = " (libsev has not initialised this guest: call init, es_init \
                                    or init2 first unless the VM fd was initialised already)";

/// One SEV guest: a VM (created by libsev or the caller's) on a [`Platform`].
///
/// Thread safety: a `Guest` is `Send` and used by one thread at a time (every command takes
/// `&mut self`); distinct guests are independent and may run on different threads. The guest
/// keeps its platform alive, so dropping the `Platform` first is fine.
pub struct Guest {
    platform: Platform,
    vm: Box<dyn VmTransport>,
    handle: u32,
    initialized: bool,
    send_hdr_len: Option<usize>,
}

impl std::fmt::Debug for Guest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guest")
            .field("backend", &self.platform.backend())
            .field("vm_fd", &self.vm.vm_fd())
            .field("handle", &self.handle)
            .field("initialized", &self.initialized)
            .finish()
    }
}

/// The argument checks of attaching to a caller's VM fd, the same for every generation: a
/// negative fd is `LIBSEV_STATUS_INVALID_ARGUMENT`, one that is not open
/// `LIBSEV_STATUS_BAD_FD` (EBADF), both `LIBSEV_CMD_NONE`, before any transport sees it.
pub(crate) fn check_vm_fd(vm_fd: RawFd) -> Result<()> {
    if vm_fd < 0 {
        return Err(Error::arg(format!("the VM fd {vm_fd} is negative")));
    }
    if !crate::transport::kvm::fd_is_open(vm_fd) {
        return Err(Error {
            status: Status::LIBSEV_STATUS_BAD_FD,
            fw_error: 0,
            os_errno: libc::EBADF,
            command: Command::LIBSEV_CMD_NONE,
            message: format!("the VM fd {vm_fd} is not an open file descriptor"),
        });
    }
    Ok(())
}

impl Guest {
    /// Create a new VM through the platform (KVM: `KVM_CREATE_VM` on `/dev/kvm`, closed when
    /// the guest is dropped; model: a model VM).
    pub fn new(platform: &Platform) -> Result<Guest> {
        let vm = platform.transport().clone().create_vm().map_err(|errno| {
            let mut e = Error::from_command(Command::LIBSEV_CMD_CREATE_VM, errno, 0);
            e.message = format!("creating a VM on /dev/kvm: {}", e.message);
            e
        })?;
        Ok(Self::with_vm(platform, vm))
    }

    /// Use the caller's VM fd; libsev never closes it. A negative fd is
    /// `LIBSEV_STATUS_INVALID_ARGUMENT`, one that is not open `LIBSEV_STATUS_BAD_FD` (EBADF),
    /// on every platform, before the transport sees it; both are argument checks
    /// (`LIBSEV_CMD_NONE`).
    pub fn attach(platform: &Platform, vm_fd: RawFd) -> Result<Guest> {
        check_vm_fd(vm_fd)?;
        let vm = platform
            .transport()
            .clone()
            .attach_vm(vm_fd)
            .map_err(|errno| {
                let mut e = Error::from_command(Command::LIBSEV_CMD_CREATE_VM, errno, 0);
                e.message = format!("attaching VM fd {vm_fd}: {}", e.message);
                e
            })?;
        Ok(Self::with_vm(platform, vm))
    }

    /// A guest over any VM transport (tests, other seam implementations).
    pub fn with_vm(platform: &Platform, vm: Box<dyn VmTransport>) -> Guest {
        Guest {
            platform: platform.clone(),
            vm,
            handle: 0,
            initialized: false,
            send_hdr_len: None,
        }
    }

    /// The platform this guest runs on.
    pub fn platform(&self) -> &Platform {
        &self.platform
    }

    /// The VM fd (-1 for a model VM that has none).
    pub fn vm_fd(&self) -> RawFd {
        self.vm.vm_fd()
    }

    /// The VM side of the transport seam.
    pub(crate) fn transport(&self) -> &dyn VmTransport {
        &*self.vm
    }

    /// The firmware handle from `LAUNCH_START`/`RECEIVE_START` (0 before).
    pub fn handle(&self) -> u32 {
        self.handle
    }

    /// Whether `init`, `es_init` or `init2` succeeded through this object.
    pub fn is_initialized(&self) -> bool {
        self.initialized
    }

    /// One `KVM_MEMORY_ENCRYPT_OP`: the ioctl result and the firmware status.
    ///
    /// # Safety
    /// `data` must be 0 or point to the parameter struct of `id`, with every uaddr inside it
    /// valid for the command's reads and writes and not accessed by others during the call.
    unsafe fn op(&self, id: u32, data: u64) -> (Result<(), Errno>, u32) {
        let mut cmd = kvm_sev_cmd {
            id,
            pad0: 0,
            data,
            error: 0,
            sev_fd: self.platform.sev_fd() as u32,
        };
        // SAFETY: forwarded contract.
        let r = unsafe { self.vm.encrypt_op(&mut cmd) };
        (r, cmd.error)
    }

    fn done(
        &self,
        command: Command,
        r: Result<(), Errno>,
        fw: u32,
        detail: impl FnOnce() -> String,
    ) -> Result<()> {
        let init = matches!(
            command,
            Command::LIBSEV_CMD_INIT | Command::LIBSEV_CMD_ES_INIT | Command::LIBSEV_CMD_INIT2
        );
        let hint = if init { None } else { self.hint() };
        finish_hinted(command, r, fw, hint, detail)
    }

    /// A command that decrypts the packet `p` (checked for `command`) into guest memory:
    /// `LAUNCH_SECRET`, `RECEIVE_UPDATE_DATA` (kernel command `id`, parameter struct `T`).
    ///
    /// # Safety
    /// The guest range in `p` must be mapped, writable memory of this process, not accessed by
    /// others during the call.
    unsafe fn packet_in<'a, T: From<PacketIn<'a>>>(
        &mut self,
        command: Command,
        id: u32,
        p: PacketIn<'a>,
    ) -> Result<()> {
        let guest_len = p.guest_len;
        let mut d = T::from(p);
        // SAFETY: hdr/trans are readable slices borrowed by `p`; the guest range is the
        // caller's (contract).
        let (r, fw) = unsafe { self.op(id, ptr(&mut d)) };
        self.done(command, r, fw, || format!(" ({guest_len} bytes)"))
    }

    /// A command without parameters.
    fn simple(&mut self, command: Command, id: u32) -> Result<()> {
        // SAFETY: the command takes no parameter struct (data = 0).
        let (r, fw) = unsafe { self.op(id, 0) };
        self.done(command, r, fw, String::new)
    }

    /// Fetch an output of the firmware whose size is normally `known` straight into `buf`:
    /// one call when `buf` holds `known` bytes; the length query only when it does not (or
    /// when the firmware refuses `known` as too short, which no SEV firmware does), then the
    /// call if `buf` holds what the query reported. `call` issues the command into the buffer
    /// it is given (whose length is what it must pass) and returns the bytes written.
    fn fetch_into(
        &mut self,
        known: usize,
        buf: &mut [u8],
        mut query: impl FnMut(&mut Self) -> Result<usize>,
        mut call: impl FnMut(&mut Self, &mut [u8]) -> Result<usize>,
    ) -> Result<Fetched> {
        if buf.len() >= known {
            match call(self, &mut buf[..known]) {
                Ok(n) => return Ok(Fetched::Written(n)),
                Err(e) if e.fw_error == crate::status::fw::INVALID_LENGTH => {
                    let need = query(self)?;
                    if need <= known {
                        return Err(e);
                    }
                    if buf.len() < need {
                        return Ok(Fetched::TooSmall(need));
                    }
                    return call(self, &mut buf[..need]).map(Fetched::Written);
                }
                Err(e) => return Err(e),
            }
        }
        let need = query(self)?;
        if buf.len() < need {
            return Ok(Fetched::TooSmall(need));
        }
        call(self, &mut buf[..need]).map(Fetched::Written)
    }

    /// `KVM_SEV_INIT`: make the VM an SEV guest (KVM initialises the platform if needed).
    pub fn init(&mut self) -> Result<()> {
        self.simple(Command::LIBSEV_CMD_INIT, kvm_cmd::INIT)?;
        self.initialized = true;
        Ok(())
    }

    /// `KVM_SEV_ES_INIT`: make the VM an SEV-ES guest.
    pub fn es_init(&mut self) -> Result<()> {
        self.simple(Command::LIBSEV_CMD_ES_INIT, kvm_cmd::ES_INIT)?;
        self.initialized = true;
        Ok(())
    }

    /// `KVM_SEV_INIT2` (VMs created with an SEV VM type).
    pub fn init2(&mut self, vmsa_features: u64, ghcb_version: u16) -> Result<()> {
        let c = Command::LIBSEV_CMD_INIT2;
        let mut d = kvm_sev_init {
            vmsa_features,
            flags: 0,
            ghcb_version,
            pad1: 0,
            pad2: [0; 8],
        };
        // SAFETY: data points to a live kvm_sev_init, which holds no addresses.
        let (r, fw) = unsafe { self.op(kvm_cmd::INIT2, ptr(&mut d)) };
        self.done(c, r, fw, String::new)?;
        self.initialized = true;
        Ok(())
    }

    /// `LAUNCH_UPDATE_VMSA` (SEV-ES): encrypt and measure every vCPU's VMSA.
    pub fn launch_update_vmsa(&mut self) -> Result<()> {
        self.simple(
            Command::LIBSEV_CMD_LAUNCH_UPDATE_VMSA,
            kvm_cmd::LAUNCH_UPDATE_VMSA,
        )
    }

    /// `GUEST_STATUS`.
    pub fn status(&mut self) -> Result<GuestStatus> {
        let c = Command::LIBSEV_CMD_GUEST_STATUS;
        let mut d = kvm_sev_guest_status::default();
        // SAFETY: data points to a live kvm_sev_guest_status (no addresses inside).
        let (r, fw) = unsafe { self.op(kvm_cmd::GUEST_STATUS, ptr(&mut d)) };
        let s = GuestStatus {
            handle: d.handle,
            policy: d.policy,
            state: d.state,
        };
        self.done(c, r, fw, || {
            format!(
                " (handle {}, policy {:#x}, state {})",
                s.handle, s.policy, s.state
            )
        })?;
        Ok(s)
    }

    /// `KVM_MEMORY_ENCRYPT_REG_REGION`: pin guest memory for the VM's life (KVM requires it
    /// for SEV guest RAM).
    ///
    /// # Safety
    /// `addr..addr+size` must be mapped memory of this process that stays mapped until it is
    /// unregistered or the VM is gone.
    pub unsafe fn register_region(&mut self, addr: *mut u8, size: usize) -> Result<()> {
        let c = Command::LIBSEV_CMD_REGISTER_REGION;
        let region = kvm_enc_region {
            addr: non_null(c, "the region address", addr)?,
            size: size as u64,
        };
        // SAFETY: forwarded contract.
        let r = unsafe { self.vm.register_region(&region) };
        finish(c, r, 0, || format!(" ({size} bytes)"))
    }

    /// `KVM_MEMORY_ENCRYPT_UNREG_REGION`: exactly an earlier registration's `(addr, size)`.
    pub fn unregister_region(&mut self, addr: *const u8, size: usize) -> Result<()> {
        let c = Command::LIBSEV_CMD_UNREGISTER_REGION;
        let region = kvm_enc_region {
            addr: non_null(c, "the region address", addr)?,
            size: size as u64,
        };
        let r = self.vm.unregister_region(&region);
        finish(c, r, 0, || format!(" ({size} bytes)"))
    }

    /// The hint for an `ENOTTY` while this object has not initialised the guest.
    fn hint(&self) -> Option<&'static str> {
        (!self.initialized).then_some(NOT_INITIALISED_HINT)
    }

    /// Which implementation runs this guest's commands.
    pub fn backend(&self) -> Backend {
        self.platform.backend()
    }
}

/// A fixed-size output: the command must have written exactly `N` bytes.
fn fixed<const N: usize>(c: Command, what: &str, buf: &[u8], got: usize) -> Result<[u8; N]> {
    if got != N || buf.len() < N {
        return Err(Error::new(
            Status::LIBSEV_STATUS_FW_INVALID_LENGTH,
            format!("{}: the {what} is {got} bytes, expected {N}", c.name()),
        )
        .with_command(c));
    }
    Ok(buf[..N].try_into().expect("N bytes"))
}
