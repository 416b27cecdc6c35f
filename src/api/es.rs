//! SEV-ES on a [`Guest`]: telling libsev about the vCPUs.
//!
//! A hypervisor creates its vCPUs on its KVM VM fd and sets their registers with the usual
//! KVM ioctls; it then hands each vCPU fd to [`Guest::add_vcpu_fd`], in creation order, before
//! `LAUNCH_UPDATE_VMSA`. On the kernel this only checks the fd (KVM already knows its vCPUs);
//! on the firmware model it is how the model learns of them, and the model reads their
//! registers from the real KVM vCPU when LAUNCH_UPDATE_VMSA runs. The same hypervisor code
//! therefore runs on both. Callers without KVM can give a register state instead
//! ([`Guest::add_vcpu_state`], model only).

use super::Guest;
use crate::error::{Error, Result};
use crate::status::Status;
use crate::transport::VcpuRef;
use crate::uapi::vmsa::VcpuState;
use std::os::fd::RawFd;

impl Guest {
    /// Make the KVM vCPU `vcpu_fd` known (in vCPU creation order). libsev does not own the fd;
    /// keep it open until the guest is freed.
    pub fn add_vcpu_fd(&mut self, vcpu_fd: RawFd) -> Result<()> {
        self.transport()
            .add_vcpu(VcpuRef::Fd(vcpu_fd))
            .map_err(|e| {
                let (status, why) = match e {
                    libc::EBADF => (
                        Status::LIBSEV_STATUS_BAD_FD,
                        "is not an open file descriptor",
                    ),
                    libc::EEXIST => (Status::LIBSEV_STATUS_INVALID_ARGUMENT, "was added already"),
                    _ => (
                        Status::LIBSEV_STATUS_INVALID_ARGUMENT,
                        "is not a KVM vCPU (KVM_CREATE_VCPU on a VM fd gives one)",
                    ),
                };
                let mut err = Error::new(status, format!("adding a vCPU: fd {vcpu_fd} {why}"));
                err.os_errno = e;
                err
            })
    }

    /// Make a vCPU known by its register state (firmware model only: the kernel takes
    /// register state through the vCPU fd).
    pub fn add_vcpu_state(&mut self, state: &VcpuState) -> Result<()> {
        self.transport()
            .add_vcpu(VcpuRef::State(state))
            .map_err(|e| {
                let mut err = Error::new(
                    Status::LIBSEV_STATUS_INVALID_STATE,
                    "adding a vCPU by register state: only the firmware model accepts it; on the \
                 kernel create the vCPU on the VM fd (KVM_CREATE_VCPU), set its registers and \
                 add its fd",
                );
                err.os_errno = e;
                err
            })
    }
}
