//! A model VM: KVM's part of `KVM_MEMORY_ENCRYPT_OP`, on top of the model firmware.

use super::platform::ModelPlatform;
use crate::transport::{Errno, VmTransport};
use crate::uapi::{kvm_enc_region, kvm_sev_cmd};
use std::os::fd::RawFd;
use std::sync::Arc;

/// One VM of the model (KVM's `struct kvm_sev_info` plus the VM fd).
pub struct ModelVm {
    #[allow(dead_code)] // used by the commands being implemented
    platform: Arc<ModelPlatform>,
    vm_fd: RawFd,
}

impl ModelVm {
    pub(crate) fn new(platform: Arc<ModelPlatform>, vm_fd: RawFd) -> Self {
        ModelVm { platform, vm_fd }
    }
}

impl VmTransport for ModelVm {
    unsafe fn encrypt_op(&self, _cmd: &mut kvm_sev_cmd) -> Result<(), Errno> {
        Err(libc::ENOTTY)
    }

    unsafe fn register_region(&self, _region: &kvm_enc_region) -> Result<(), Errno> {
        Err(libc::ENOTTY)
    }

    fn unregister_region(&self, _region: &kvm_enc_region) -> Result<(), Errno> {
        Err(libc::EINVAL)
    }

    fn vm_fd(&self) -> RawFd {
        self.vm_fd
    }
}
