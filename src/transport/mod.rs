//! The transport seam: the one place where libsev hands a command to "the kernel".
//!
//! Everything above this seam (argument checks, struct marshalling, the two-call length query,
//! error mapping) is the same for a real AMD EPYC host and for the built-in firmware model.
//! Below it there are exactly two implementations:
//!
//! * [`kvm`]: `ioctl()` on the caller's VM fd (`KVM_MEMORY_ENCRYPT_OP`, `..._REG_REGION`,
//!   `..._UNREG_REGION`) and on the `/dev/sev` fd (`SEV_ISSUE_CMD`);
//! * [`crate::model`]: the in-process model of the AMD Secure Processor, which reads and writes
//!   the very same uaddr-bearing structs the kernel would.
//!
//! Both report failure the way the kernel does: an errno, plus the firmware status written
//! into `kvm_sev_cmd.error` / `sev_issue_cmd.error`.

pub mod kvm;
pub mod vcpu;

use crate::uapi::vmsa::VcpuState;
use crate::uapi::{kvm_enc_region, kvm_sev_cmd, sev_issue_cmd};
use std::os::fd::RawFd;
use std::sync::Arc;

/// An OS error number (`errno`), as the kernel would return it from `ioctl()`.
pub type Errno = i32;

/// What is behind a transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The Linux kernel: KVM and the PSP driver, on real hardware.
    Kvm,
    /// libsev's built-in model of the SEV firmware.
    Model,
}

/// Platform side of the seam: `/dev/sev`.
pub trait PlatformTransport: Send + Sync {
    /// `ioctl(sev_fd, SEV_ISSUE_CMD, cmd)`: the kernel's semantics exactly, including the
    /// firmware status written to `cmd.error` and the length-query write-backs.
    ///
    /// # Safety
    /// `cmd.data` must point to the parameter struct of `cmd.cmd` (or be 0 where the command
    /// takes none), and every address inside that struct must be valid for the reads and
    /// writes the command makes, for the given lengths.
    unsafe fn sev_issue_cmd(&self, cmd: &mut sev_issue_cmd) -> Result<(), Errno>;

    /// The fd number to put in `kvm_sev_cmd.sev_fd`.
    fn sev_fd(&self) -> RawFd;

    /// Which implementation this is.
    fn backend(&self) -> Backend;

    /// Create a new VM for SEV (KVM: `KVM_CREATE_VM` on `/dev/kvm`, owned by the returned
    /// transport and closed with it; model: a model VM).
    fn create_vm(self: Arc<Self>) -> Result<Box<dyn VmTransport>, Errno>;

    /// Use a VM fd the caller owns and keeps owning (never closed by libsev). The model accepts
    /// any fd (including a real non-SEV KVM VM) and keeps its own guest state.
    fn attach_vm(self: Arc<Self>, vm_fd: RawFd) -> Result<Box<dyn VmTransport>, Errno>;

    /// Create a VM of a KVM VM type (`KVM_CREATE_VM` with that type; the model makes a VM
    /// that behaves as KVM's of that type, e.g. `KVM_X86_SNP_VM` = 4). `EINVAL` for a type
    /// the implementation does not know.
    fn create_vm_typed(self: Arc<Self>, vm_type: u64) -> Result<Box<dyn VmTransport>, Errno> {
        let _ = vm_type;
        Err(libc::EINVAL)
    }

    /// Use the caller's VM fd, created with `vm_type` (KVM knows the type from the fd; the
    /// model needs to be told).
    fn attach_vm_typed(
        self: Arc<Self>,
        vm_fd: RawFd,
        vm_type: u64,
    ) -> Result<Box<dyn VmTransport>, Errno> {
        let _ = vm_type;
        self.attach_vm(vm_fd)
    }
}

/// VM side of the seam: `KVM_MEMORY_ENCRYPT_*` on one VM fd.
pub trait VmTransport: Send + Sync {
    /// `ioctl(vm_fd, KVM_MEMORY_ENCRYPT_OP, cmd)`: the kernel's semantics exactly (the
    /// firmware status goes to `cmd.error`, in/out fields of the parameter struct are written
    /// back as KVM writes them).
    ///
    /// # Safety
    /// `cmd.data` must point to the parameter struct of `cmd.id` (or be 0 where the command
    /// takes none), and every uaddr inside it must be valid for the reads and writes the
    /// command makes, for the given lengths, and not be accessed concurrently by others.
    unsafe fn encrypt_op(&self, cmd: &mut kvm_sev_cmd) -> Result<(), Errno>;

    /// `KVM_MEMORY_ENCRYPT_REG_REGION`: pin a range of guest memory for the VM's life.
    ///
    /// # Safety
    /// The range must be mapped memory of this process and stay mapped until unregistered.
    unsafe fn register_region(&self, region: &kvm_enc_region) -> Result<(), Errno>;

    /// `KVM_MEMORY_ENCRYPT_UNREG_REGION`: the exact `(addr, size)` of an earlier registration.
    fn unregister_region(&self, region: &kvm_enc_region) -> Result<(), Errno>;

    /// The VM fd (the caller's, or the one created for it; -1 for a model VM without one).
    fn vm_fd(&self) -> RawFd;

    /// Make a vCPU known for `LAUNCH_UPDATE_VMSA`, in vCPU index order. KVM already knows
    /// the vCPUs created on its VM fd: the kernel transport only checks that a
    /// [`VcpuRef::Fd`] is a KVM vCPU (`EBADF`/`EINVAL`) and refuses a [`VcpuRef::State`]
    /// (`EOPNOTSUPP`: register state reaches KVM through the vCPU fd). The model records it.
    fn add_vcpu(&self, vcpu: VcpuRef<'_>) -> Result<(), Errno> {
        match vcpu {
            VcpuRef::Fd(fd) => vcpu::check_vcpu_fd(fd),
            VcpuRef::State(_) => Err(libc::EOPNOTSUPP),
        }
    }

    /// The model's SNP VM behind this transport, if it is one (model-only operations such as
    /// handing in vCPU VMSAs).
    fn model_snp(&self) -> Option<&crate::model::snp::SnpVm> {
        None
    }
}

/// A vCPU as a hypervisor describes it to libsev.
#[derive(Debug, Clone, Copy)]
pub enum VcpuRef<'a> {
    /// A vCPU fd from `KVM_CREATE_VCPU` on a real KVM VM of this process.
    Fd(RawFd),
    /// A register state (no KVM vCPU behind it; the model only).
    State(&'a VcpuState),
}
